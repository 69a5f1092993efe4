import { describe, expect, it } from 'vitest';
import { frontDoorFromEnv } from './front-door.js';

describe('DRYDOCK_FRONT_DOOR', () => {
  it('reads service:port/path, the path defaulting to /', () => {
    expect(frontDoorFromEnv('nginx:80/healthz')).toEqual({ service: 'nginx', port: 80, path: '/healthz' });
    expect(frontDoorFromEnv('web-1:8080')).toEqual({ service: 'web-1', port: 8080, path: '/' });
    expect(frontDoorFromEnv(undefined)).toBeUndefined();
  });

  it('refuses anything else, naming the variable and the expected form', () => {
    for (const bad of ['nginx', 'nginx:http/', ':80/', 'nginx:0/', 'nginx:70000/']) {
      expect(() => frontDoorFromEnv(bad), bad).toThrow(`DRYDOCK_FRONT_DOOR=${bad} is not service:port/path (e.g. nginx:80/)`);
    }
  });
});
