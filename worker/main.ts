/**
 * `npm run worker`: a standalone worker, for running workers apart from the
 * API (needs DATABASE_URL and TEMPORAL_ADDRESS; PGlite serves one process).
 * DRYDOCK_TASK_QUEUE (default drydock-upgrades), DRYDOCK_RELEASES_DIR
 * (default the shipped templates/; DRYDOCK_TEMPLATES_DIR is its former name),
 * DRYDOCK_FRONT_DOOR and the keys (DRYDOCK_SECRET_KEY, or the key file in
 * DRYDOCK_DATA_DIR) must match the API's.
 */
import path from 'node:path';
import { openDatabase } from '../prisma/db.js';
import { createAgentRepo, createInstanceRepo, createReleaseRepo } from '../prisma/repositories.js';
import { createCatalog } from './catalog.js';
import { keyringFromEnv } from './keys.js';
import { openCa } from './ca.js';
import { createDriverFactory } from './drivers.js';
import { frontDoorFromEnv } from './front-door.js';
import { defaultPlanner, releasesDirFromEnv, renderDefaultsFromEnv, withCatalog } from './planner.js';
import { createWorker } from './worker.js';
import { TASK_QUEUE } from '../workflows/surface.js';

/** Remote instances are reached with the same CA as the API's (DRYDOCK_CA_DIR, default .data/ca). */
async function remoteConfig(db: Awaited<ReturnType<typeof openDatabase>>) {
  const ca = await openCa(process.env.DRYDOCK_CA_DIR || path.join(process.env.DRYDOCK_DATA_DIR || '.data', 'ca'), console.log);
  return { credentials: ca.clientCredentials, approvedAgent: createAgentRepo(db.prisma).approvedAgent };
}

const databaseUrl = process.env.DATABASE_URL;
const temporalAddress = process.env.TEMPORAL_ADDRESS;
if (!databaseUrl || !temporalAddress) {
  console.error('npm run worker needs DATABASE_URL and TEMPORAL_ADDRESS (npm start runs a worker in-process on the embedded defaults)');
  process.exit(1);
}
try {
  const db = await openDatabase({ url: databaseUrl, log: console.log });
  const defaults = renderDefaultsFromEnv();
  const releasesDir = releasesDirFromEnv();
  const catalog = createCatalog(createReleaseRepo(db.prisma), defaults);
  const loaded = await catalog.loadDir(releasesDir);
  console.log(loaded.length > 0 ? `releases: ${loaded.map((b) => b.release.version).join(', ')} from ${releasesDir}` : `releases: ${releasesDir} is a template set without release.json; it renders as before`);
  const keyring = await keyringFromEnv(process.env.DRYDOCK_DATA_DIR || '.data', console.log);
  const { worker, run } = await createWorker({
    db,
    keyring,
    temporalAddress,
    taskQueue: process.env.DRYDOCK_TASK_QUEUE || undefined,
    driverFor: await createDriverFactory({ log: console.log, remote: await remoteConfig(db) }),
    planner: withCatalog(defaultPlanner(defaults, releasesDir, catalog), catalog, createInstanceRepo(db.prisma), keyring),
    frontDoor: frontDoorFromEnv(process.env.DRYDOCK_FRONT_DOOR),
  });
  const stop = () => worker.shutdown();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`worker polling ${temporalAddress} (task queue ${process.env.DRYDOCK_TASK_QUEUE || TASK_QUEUE})`);
  await run();
  await db.close();
} catch (err) {
  console.error(`worker could not start: ${(err as Error).message}`);
  process.exit(1);
}
