/**
 * Real Docker Compose tenants for the benchmarks that run real upgrades
 * (overhead, agent memory): the Docker engine and the loopback registry
 * (scripts/infra.sh, as the tests start them), the test stack's images for
 * several release tags, and a tenant as release N left it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { RenderDefaults } from '../core/render.js';
import { createReleaseTenant, pushReleaseImages, RELEASE_SERVICES, releaseDefaultsForPrefix, type ReleaseTenant } from '../test/harness/release-tenant.js';
import { REPO_ROOT } from '../platform/temporal-server.js';

const run = promisify(execFile);

export { RELEASES as FIXTURES } from '../test/harness/release-tenant.js';

/** A benchmark that cannot run here; bench/run.ts prints the reason and goes on with the others. */
export class BenchSkipped extends Error {}

export async function ensureDockerAndRegistry(): Promise<void> {
  try {
    await run('bash', [path.join(REPO_ROOT, 'scripts/infra.sh')], { timeout: 600_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new BenchSkipped(`needs the Docker engine and the loopback registry, which scripts/infra.sh could not start: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}

export interface ReleaseStack {
  prefix: string;
  defaults: RenderDefaults;
  /** Image ids by tag and service. */
  images: Record<string, Record<string, string>>;
}

/** The release test stack's images (five app services and redis) for each tag, pushed to the loopback registry. */
export async function buildReleaseStack(name: string, tags: string[]): Promise<ReleaseStack> {
  const prefix = `drydock-bench-${name}`;
  const defaults = releaseDefaultsForPrefix(prefix);
  const images = await pushReleaseImages(defaults, Object.fromEntries(tags.map((tag) => [tag, RELEASE_SERVICES])), name);
  return { prefix, defaults, images };
}

/** A tenant as release N (fixtures/releases/n) at `tag` left it, up on the Docker engine, in a fresh directory under `parent`. */
export function createStackTenant(stack: ReleaseStack, slug: string, tag: string, parent: string): Promise<ReleaseTenant> {
  return createReleaseTenant({ slug, defaults: stack.defaults, release: 'n', imageTag: tag, parent });
}

export interface UpgradeStep {
  name: string;
  status: string;
  startedAt: string;
  finishedAt?: string;
}

export interface ComposeCall {
  /** Epoch ms (Date.now(), the clock the step times use). */
  start: number;
  ms: number;
  cwd?: string;
  what: string;
}

export interface StepBreakdown {
  name: string;
  ms: number;
  composeMs: number;
}

/** Each step's duration and the compose time that ran inside it. */
export function breakdown(steps: UpgradeStep[], calls: ComposeCall[]): StepBreakdown[] {
  const spans = steps.map((s) => {
    const from = Date.parse(s.startedAt);
    return { name: s.name, from, to: s.finishedAt ? Date.parse(s.finishedAt) : from, composeMs: 0 };
  });
  for (const c of calls) {
    // Step times come from workflow time (millisecond precision): a call belongs to the step it starts in;
    // of steps run together, to the one that ends last (the faster one did not wait for it).
    const owner = spans.filter((s) => c.start >= s.from - 1 && c.start <= s.to + 1).sort((a, b) => b.to - a.to)[0];
    if (owner) owner.composeMs += c.ms;
  }
  return spans.map(({ name, from, to, composeMs }) => ({ name, ms: to - from, composeMs }));
}

/** Where a workflow's time went, from its history's event times (the server's clock). */
export interface TemporalTimes {
  /** First event to last. */
  workflowMs: number;
  /** At least one activity running in the worker (started → completed); steps run together count once. */
  activityMs: number;
  /** Workflow tasks (started → completed: the workflow code and its local activities) while no activity runs. */
  workflowTaskMs: number;
  /** The rest: the server scheduling tasks and handing them to the worker. */
  dispatchMs: number;
}

export function temporalTimes(history: proto.temporal.api.history.v1.IHistory): TemporalTimes {
  const T = proto.temporal.api.enums.v1.EventType;
  const events = history.events ?? [];
  const at = (e: proto.temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const activities: Interval[] = [];
  const workflowTasks: Interval[] = [];
  for (const e of events) {
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      workflowTasks.push([at(byId.get(Number(e.workflowTaskCompletedEventAttributes!.startedEventId))!), at(e)]);
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) activities.push([at(byId.get(Number(done.startedEventId))!), at(e)]);
  }
  const workflowMs = events.length ? at(events.at(-1)!) - at(events[0]!) : 0;
  // Steps that run together overlap: time is counted once, activities first, then workflow tasks outside them.
  const activityMs = coveredMs(activities);
  const workflowTaskMs = coveredMs([...activities, ...workflowTasks]) - activityMs;
  return { workflowMs, activityMs, workflowTaskMs, dispatchMs: workflowMs - activityMs - workflowTaskMs };
}

type Interval = [from: number, to: number];

/** How long at least one of the intervals covers. */
function coveredMs(intervals: Interval[]): number {
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of [...intervals].sort((a, b) => a[0] - b[0])) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}
