/**
 * The fast workflow layer: the real workflow bundle and the real activities,
 * run by Temporal's time-skipping test server (parks of a day pass in
 * milliseconds), against in-memory tenants (FakeTenant) and a real
 * PostgreSQL database for the upgrade rows. Upgrades start and take operator
 * actions through the same service the API uses.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { createUpgradeService, type UpgradeService } from '../../api/upgrade-service.js';
import type { InstanceTarget } from '../../core/types.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/surface.js';
import { temporal } from '@temporalio/proto';
import { openDatabase, type Database } from '../../prisma/db.js';
import { createInstanceRepo, createUpgradeRepo, type InstanceRecord } from '../../prisma/repositories.js';
import { BUNDLE_FILE, buildBundle, prebuiltBundleIsFresh } from '../../worker/bundle.js';
import { createPlanner, renderDefaultsFromEnv } from '../../worker/planner.js';
import { findTestServer } from '../../platform/temporal-server.js';
import { WORKER_TUNING } from '../../worker/worker.js';
import { dataConverterFor } from '../../worker/data-converter.js';
import { createDriftRepo } from '../../prisma/drift-repo.js';
import { createSnapshotStore } from '../../prisma/snapshot-store.js';
import { createNotifier } from '../../platform/notifier.js';
import { testKeyring } from '../test-key.js';
import { createTestDatabase, uniqueName } from '../support.js';
import { FakeTenant } from './fake-tenant.js';

export const TAG_BEFORE = '1.0.0';
const ENV_FILE = 'POSTGRES_PASSWORD=fake-pg-password\nAPI_SECRET=fake-api-secret\n';

export interface FastEnv {
  env: TestWorkflowEnvironment;
  db: Database;
  taskQueue: string;
  upgrades: UpgradeService;
  tenants: Map<string, FakeTenant>;
  /** A local instance whose tenant is a new FakeTenant running TAG_BEFORE. */
  addInstance(opts?: { parkTimeoutMs?: number }): Promise<{ instance: InstanceRecord; tenant: FakeTenant }>;
  upgradeRow(id: string): ReturnType<ReturnType<typeof createUpgradeRepo>['get']>;
  /** An instance's upgrades, newest first. */
  upgradeRows(instanceId: string): ReturnType<ReturnType<typeof createUpgradeRepo>['listForInstance']>;
  /** Called before the activities write an instance's tag (the persist-image-tag step), with the instance. */
  beforeTagWrite?: (instanceId: string) => Promise<void>;
  /** Runs `fn` while a worker polls; the worker stops after it. */
  withWorker<T>(fn: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}


export async function startFastEnv(opts: { parkTimeoutMs?: number } = {}): Promise<FastEnv> {
  // Payloads encrypted as in production, so the fast layer runs the same converter.
  const keyring = testKeyring();
  const dataConverter = dataConverterFor(keyring);
  const [env, database] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: await findTestServer() } },
      client: { dataConverter },
    }),
    createTestDatabase(),
  ]);
  // As the dev server does with --search-attribute: drydock's are Keyword.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  const db = await openDatabase({ url: database.url, log: () => {} });
  const taskQueue = uniqueName('fast-');
  const instances = createInstanceRepo(db.prisma);
  const upgradeRepo = createUpgradeRepo(db.prisma);
  const tenants = new Map<string, FakeTenant>();
  const defaultImageTag = 'latest';
  // The global setup prebuilds the bundle; a stale one is rebuilt, as the worker does.
  const workflowBundle = prebuiltBundleIsFresh() ? { codePath: BUNDLE_FILE } : await buildBundle();
  const activities = createActivities({
    instances: {
      ...instances,
      async setImageTag(...args: Parameters<typeof instances.setImageTag>) {
        await fx.beforeTagWrite?.(args[0]);
        return instances.setImageTag(...args);
      },
    },
    upgrades: upgradeRepo,
    snapshots: createSnapshotStore(db.prisma, keyring),
    driverFor: (target: InstanceTarget) => {
      const t = tenants.get(target.slug);
      if (!t) throw new Error(`no fake tenant ${target.slug}`);
      return t;
    },
    planner: createPlanner({ ...renderDefaultsFromEnv({}), imageTag: defaultImageTag }),
    verifyPollMs: 100,
    // Events go to the outbox as in production (no endpoint: nothing is sent).
    notifications: createNotifier({ prisma: db.prisma, keyring, temporal: async () => env.client, taskQueue, settings: { publicUrl: 'http://drydock.test' } }).activityDeps(),
    drift: createDriftRepo(db.prisma),
  });
  const upgrades = createUpgradeService({
    temporal: env.client,
    temporalAddress: 'time-skipping test server',
    upgrades: upgradeRepo,
    defaultImageTag,
    taskQueue,
    parkTimeoutMs: opts.parkTimeoutMs,
    // Short, so an unhealthy service fails verify in (skipped) seconds.
    verifyDeadlineMs: 500,
  });

  const fx: FastEnv = {
    env,
    db,
    taskQueue,
    upgrades,
    tenants,
    async addInstance() {
      const slug = uniqueName('fast-');
      const instance = await instances.create({
        slug,
        name: slug,
        imageTag: TAG_BEFORE,
        composeProjectName: slug,
        composeDir: `/fake/${slug}`,
        coreServices: ['api', 'admin', 'media-api', 'nginx'],
      });
      if (!instance) throw new Error(`slug ${slug} taken`);
      const tenant = new FakeTenant(slug, TAG_BEFORE);
      tenant.files.set('.env', { content: ENV_FILE, mode: 0o600 });
      tenants.set(slug, tenant);
      return { instance, tenant };
    },
    upgradeRow: (id) => upgradeRepo.get(id),
    upgradeRows: (instanceId) => upgradeRepo.listForInstance(instanceId),
    async withWorker(fn) {
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, dataConverter, ...WORKER_TUNING });
      return worker.runUntil(fn);
    },
    async stop() {
      await env.teardown();
      await db.close();
      await database.drop();
    },
  };
  return fx;
}
