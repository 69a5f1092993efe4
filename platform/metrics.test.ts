import { describe, expect, it } from 'vitest';
import { routeLabel } from '../api/metrics.js';
import { bearerMatches, createMetrics, METRIC, metricsSettingsFromEnv, parseListen } from './metrics.js';

describe('metrics settings', () => {
  it('reads DRYDOCK_METRICS_LISTEN as host:port, IPv6 in brackets, and refuses anything else naming the setting', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', 'http://127.0.0.1:9464', ':9464']) {
      expect(() => parseListen(bad), bad).toThrow(/DRYDOCK_METRICS_LISTEN must be host:port/);
    }
  });

  it('refuses a DRYDOCK_METRICS_TOKEN shorter than 16 characters without repeating it', () => {
    expect(() => metricsSettingsFromEnv({ DRYDOCK_METRICS_TOKEN: 'short-secret' })).toThrow(/at least 16 characters/);
    try {
      metricsSettingsFromEnv({ DRYDOCK_METRICS_TOKEN: 'short-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
    expect(metricsSettingsFromEnv({})).toEqual({ token: undefined, listen: undefined });
    expect(metricsSettingsFromEnv({ DRYDOCK_METRICS_TOKEN: 'x'.repeat(16), DRYDOCK_METRICS_LISTEN: '0.0.0.0:9464' })).toEqual({
      token: 'x'.repeat(16),
      listen: { host: '0.0.0.0', port: 9464 },
    });
  });

  it('accepts only the exact bearer token', () => {
    const token = 'a'.repeat(32);
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token}a`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token.slice(1)}`, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
  });
});

describe('route labels', () => {
  it('are route patterns under their mount, never the ids or namespaces a URL carries', () => {
    expect(routeLabel('/api/instances/4f1c/upgrade-images?x=1', 'POST', '/instances/:id/upgrade-images')).toBe('/api/instances/:id/upgrade-images');
    expect(routeLabel('/my-namespace/codec/decode', 'POST', '/decode')).toBe('/:namespace/codec/decode');
    expect(routeLabel('/codec/decode', 'POST', '/decode')).toBe('/codec/decode');
    expect(routeLabel('/healthz', 'GET', '/healthz')).toBe('/healthz');
    expect(routeLabel('/api/nothing/4f1c', 'GET', undefined)).toBe('/api (no route)');
    expect(routeLabel('/instances/4f1c', 'GET', undefined)).toBe('(web UI)');
    expect(routeLabel('/anything/4f1c', 'DELETE', undefined)).toBe('(no route)');
  });
});

describe('upgrade counters', () => {
  it('count a park per needs-attention record and an end per finished record, by path, not the running records between', async () => {
    const m = createMetrics();
    m.upgradeEvents.started('release');
    m.upgradeEvents.progressRecorded('release', { status: 'running', currentStep: 'pull' });
    m.upgradeEvents.progressRecorded('release', { status: 'needs-attention', currentStep: 'verify' });
    m.upgradeEvents.progressRecorded('release', { status: 'rolling-back', currentStep: 'rollback-files' });
    m.upgradeEvents.progressRecorded('release', { status: 'rolled-back', currentStep: 'rollback-verify', finished: true });
    const text = await m.render();
    expect(text).toContain(`${METRIC.upgradesStarted}{mode="release"} 1`);
    expect(text).toContain(`${METRIC.upgradesParked}{mode="release",step="verify"} 1`);
    expect(text).toContain(`${METRIC.upgradesFinished}{mode="release",status="rolled-back"} 1`);
    expect(text).toContain(`${METRIC.upgradesFinished}{mode="release",status="succeeded"} 0`);
    expect(text).not.toMatch(/status="running"|status="rolling-back"/);
  });
});
