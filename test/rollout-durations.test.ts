/**
 * Rollout durations are bounded at the API's edge (real control plane, real
 * PostgreSQL): no Infinity (JSON's 1e400), no "0ms" timeout that fails every
 * instance at once, no bake of a century. Each gets a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

describe('rollout durations', () => {
  let cp: TestControlPlane;
  let instanceId: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ runWorker: false });
    instanceId = (await cp.api('POST', '/api/instances', { slug: uniqueName('dur'), name: 'Durations', composeDir: '/srv/dur' })).body.id;
  });
  afterAll(() => cp?.stop());

  /** A raw body, so JSON numbers like 1e400 reach the server as written. */
  const preview = (extra: string) =>
    cp.api('POST', '/api/rollouts/preview', `{"mode":"image-only","target":{"instanceIds":["${instanceId}"]},"waves":[1]${extra}}`);

  it.each([
    ['bake of Infinity (1e400)', ',"bake":1e400', 'bake', /Infinity|finite|number/i],
    ['bake of 0ms', ',"bake":"0ms"', 'bake', /at least 1s \(or the number 0 for no bake\)/],
    ['bake of 500ms', ',"bake":"500ms"', 'bake', /at least 1s/],
    ['bake of 8 days', ',"bake":"192h"', 'bake', /at most 7 days/],
    ['bake of a century in ms', ',"bake":3153600000000', 'bake', /at most 7 days/],
    ['timeout of Infinity (1e400)', ',"perInstanceTimeout":1e400', 'perInstanceTimeout', /Infinity|finite|number/i],
    ['timeout of 0ms', ',"perInstanceTimeout":"0ms"', 'perInstanceTimeout', /at least 1s/],
    ['timeout of 0s', ',"perInstanceTimeout":"0s"', 'perInstanceTimeout', /at least 1s/],
    ['timeout of 25h', ',"perInstanceTimeout":"25h"', 'perInstanceTimeout', /at most 24h/],
    ['bake in words', ',"bake":"5 minutes"', 'bake', /must be "approval" or a duration like 90s, 5m/],
    ['timeout of true', ',"perInstanceTimeout":true', 'perInstanceTimeout', /must be a duration like 15m/],
  ])('refuses a %s with a 400 naming the field', async (_what, extra, field, message) => {
    const res = await preview(extra);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    const problem = (res.body.fields as { field: string; message: string }[] | undefined)?.find((f) => f.field === field);
    expect(problem, JSON.stringify(res.body)).toBeDefined();
    expect(problem!.message).toMatch(message);
  });

  it.each([
    ['no bake', ',"bake":0'],
    ['approval', ',"bake":"approval"'],
    ['a 90s bake and a 3s timeout', ',"bake":"90s","perInstanceTimeout":"3s"'],
    ['a 7-day bake and a 24h timeout', ',"bake":"168h","perInstanceTimeout":"24h"'],
    ['the defaults', ''],
  ])('accepts %s', async (_what, extra) => {
    const res = await preview(extra);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});
