/**
 * `npm run worker`: a standalone worker, for running workers apart from the
 * API (needs DATABASE_URL and TEMPORAL_ADDRESS; PGlite serves one process).
 * DRYDOCK_TASK_QUEUE (default drydock-upgrades), DRYDOCK_TEMPLATES_DIR
 * (default the shipped templates/), DRYDOCK_FRONT_DOOR and the keys
 * (DRYDOCK_SECRET_KEY, or the key file in DRYDOCK_DATA_DIR) must match the API's.
 */
import path from 'node:path';
import { openDatabase } from '../prisma/db.js';
import { createAgentRepo } from '../prisma/repositories.js';
import { openCa } from './ca.js';
import { createDriverFactory } from './drivers.js';
import { frontDoorFromEnv } from './front-door.js';
import { createPlanner, renderDefaultsFromEnv } from './planner.js';
import { keyringFromEnv } from './keys.js';
import { createWorker } from './worker.js';
import { TASK_QUEUE } from '../core/workflow-ids.js';

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
  const { worker, run } = await createWorker({
    db,
    keyring: await keyringFromEnv(process.env.DRYDOCK_DATA_DIR || '.data', console.log),
    temporalAddress,
    taskQueue: process.env.DRYDOCK_TASK_QUEUE || undefined,
    driverFor: await createDriverFactory({ log: console.log, remote: await remoteConfig(db) }),
    planner: createPlanner(renderDefaultsFromEnv(), process.env.DRYDOCK_TEMPLATES_DIR || undefined),
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
