/**
 * A remote tenant's agent (a real `agent/main.ts` process over mutual TLS)
 * killed while it runs compose up for a Release Upgrade: back within the
 * step's retry budget, the step retries and the upgrade completes; gone for
 * longer, the upgrade parks with an error naming the unreachable agent, and
 * Retry finishes it once the agent is back. The agent keeps its port and
 * state directory across restarts, as on a real host.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER_RECREATE } from '../../workflows/policies.js';
import { createPlanner } from '../../worker/planner.js';
import { freePort } from '../../platform/temporal-server.js';
import { buildAndPushImage, registryAddress } from '../harness/images.js';
import { startTestControlPlane, uniqueName, waitForUpgradeEnd, waitForUpgradeEndAfterRetry, waitForUpgradeStatus, type TestControlPlane } from '../support.js';
import {
  createReleaseTenant,
  FIXTURES,
  N,
  N1,
  pushReleaseImages,
  RELEASE_SERVICES,
  releaseDefaults,
  sleep,
  spawnProcess,
  waitForStep,
  type Proc,
  type ReleaseTenant,
} from './support.js';

const N2 = '1.2.0';
/** The first retry of compose up comes this long after a failure (CONTAINER_RECREATE's initialInterval). */
const FIRST_RETRY_MS = 5_000;

describe('the agent of a remote tenant stopped during compose up', () => {
  let cp: TestControlPlane;
  let work: string;
  let tenant: ReleaseTenant;
  let agent: Proc;
  let agentArgs: string[];
  let agentUrl: string;
  let instanceId: string;
  let images: Record<string, Record<string, string>>;

  const startAgent = async () => {
    agent = spawnProcess('agent', process.execPath, ['--import', 'tsx', 'agent/main.ts', ...agentArgs]);
    await agent.waitForLine(/approved; serving|serving .* on https/, 60_000);
  };

  beforeAll(async () => {
    const slug = uniqueName('agtout');
    const prefix = `drydock-${slug}`;
    const defaults = releaseDefaults(prefix);
    images = await pushReleaseImages(defaults, { [N]: RELEASE_SERVICES, [N1]: RELEASE_SERVICES }, slug);
    images[N2] = {};
    for (const svc of RELEASE_SERVICES) images[N2]![svc] = (await buildAndPushImage(`${registryAddress()}/${prefix}/${svc}:${N2}`, `${svc} ${N2} ${slug}`)).id;
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-agent-outage-'));
    const caDir = path.join(work, 'ca');
    cp = await startTestControlPlane({ planner: createPlanner(defaults, path.join(FIXTURES, 'n1')), caDir, verifyDeadlineMs: 60_000 });
    await mkdir(path.join(work, 'tenants'));
    tenant = await createReleaseTenant({ slug, defaults, release: 'n', imageTag: N, dir: path.join(work, 'tenants', slug), keepDir: true });

    const invite = await cp.api('POST', '/api/agents/invites', { expiresInMinutes: 30, slug });
    const port = await freePort();
    agentArgs = [
      '--ccp-url', cp.url,
      '--insecure-http',
      '--slug', slug,
      '--dir', tenant.dir,
      '--listen', `127.0.0.1:${port}`,
      '--state-dir', path.join(work, 'agent-state'),
      '--ca-fingerprint', invite.body.caFingerprint256,
      '--poll-ms', '100',
      '--backoff-ms', '100,200,400,1000',
    ];
    agent = spawnProcess('agent', process.execPath, ['--import', 'tsx', 'agent/main.ts', ...agentArgs, '--invite-code', invite.body.code]);
    const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
    agentUrl = (await agent.waitForLine(/advertised as (https:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const approved = await cp.api('POST', `/api/agents/registrations/${registrationId}/approve`, {});
    expect(approved.status).toBe(200);
    instanceId = approved.body.instance.id;
    await agent.waitForLine(/approved; serving/);
  });

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await tenant?.down();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function upAttempt(workflowId: string, runId: string) {
    const history = await cp.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    const scheduled = new Set((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'startAllServices').map((e) => String(e.eventId)));
    return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId))).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  }

  async function startUpgradeAndKillAgentDuringUp(imageTag: string) {
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag });
    expect(preview.status).toBe(200);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag, planHash: preview.body.planHash });
    expect(started.status).toBe(202);
    await waitForStep(cp, started.body.upgradeId, 'up');
    await agent.kill('SIGKILL'); // the agent and its compose child, as a host crash would
    return { ...started.body, killedAt: Date.now() } as { upgradeId: string; workflowId: string; runId: string; killedAt: number };
  }

  it('retries compose up and completes when the agent is back after more than one retry interval', async () => {
    const u = await startUpgradeAndKillAgentDuringUp(N1);
    await sleep(FIRST_RETRY_MS + 1_500);
    await startAgent();
    const back = (Date.now() - u.killedAt) / 1000;
    const end = await waitForUpgradeEnd(cp, u.upgradeId, 300_000);
    const attempts = await upAttempt(u.workflowId, u.runId);
    console.log(`[fault] agent SIGKILL during compose up, serving again after ${back.toFixed(1)} s: upgrade ${end.status} ${((Date.now() - u.killedAt) / 1000).toFixed(1)} s after the kill; startAllServices completed on attempt ${attempts.join(',')}`);

    expect(end.status).toBe('succeeded');
    expect(end.error).toBeNull();
    expect(attempts[0]).toBeGreaterThanOrEqual(2);
    for (const s of await tenant.driver.containerStates([...RELEASE_SERVICES])) {
      expect(s.state, s.service).toBe('running');
      expect(s.imageId, s.service).toBe(images[N1]![s.service]);
    }
  });

  it('parks with an error naming the unreachable agent when it stays away longer than the retry budget, and Retry completes it once it is back', async () => {
    const u = await startUpgradeAndKillAgentDuringUp(N2);
    const parked = await waitForUpgradeStatus(cp, u.upgradeId, ['needs-attention', 'failed', 'succeeded'], 300_000);
    const parkedAfter = (Date.now() - u.killedAt) / 1000;
    console.log(`[fault] agent SIGKILL during compose up, kept down: upgrade ${parked.status} at ${parked.currentStep} after ${parkedAfter.toFixed(1)} s (budget ${CONTAINER_RECREATE.retry?.maximumAttempts} attempts): ${JSON.stringify(parked.error)}`);
    expect(parked.status).toBe('needs-attention');
    expect(parked.currentStep).toBe('up');
    expect(parked.error).toContain(`the agent at ${agentUrl} is unreachable`);
    expect(parked.actions ?? ['retry', 'rollback', 'abort']).toContain('retry');

    await startAgent();
    const retried = await cp.api('POST', `/api/upgrades/${u.upgradeId}/retry`);
    expect(retried.status).toBe(202);
    const end = await waitForUpgradeEndAfterRetry(cp, parked, 300_000);
    console.log(`[fault] … after the agent came back and an operator retried: upgrade ${end.status}`);
    expect(end.status).toBe('succeeded');
    expect(end.steps.filter((s: { name: string }) => s.name === 'up').map((s: { status: string }) => s.status)).toEqual(['failed', 'succeeded']);
    for (const s of await tenant.driver.containerStates([...RELEASE_SERVICES])) {
      expect(s.state, s.service).toBe('running');
      expect(s.imageId, s.service).toBe(images[N2]![s.service]);
    }
    expect((await cp.api('GET', `/api/instances/${instanceId}/upgrades`)).body).toHaveLength(2);
  });
});
