/**
 * `npm start`: the control plane on its embedded defaults. DATABASE_URL,
 * TEMPORAL_ADDRESS, PORT, IMAGE_TAG, DRYDOCK_DATA_DIR and DRYDOCK_TASK_QUEUE override them.
 *
 * `npm run api` (`--api-only`): the API without a worker, one of several
 * behind a load balancer, beside `npm run worker` processes. It needs
 * DATABASE_URL and TEMPORAL_ADDRESS: the embedded database serves one
 * process, and a dev server of its own would be one no worker polls.
 */
import { frontDoorFromEnv } from '../worker/front-door.js';
import { defaultImageTagFromEnv } from '../worker/planner.js';
import { startControlPlane } from './control-plane.js';
import { randomBytes } from 'node:crypto';

const apiOnly = process.argv.includes('--api-only');
if (apiOnly && (!process.env.DATABASE_URL || !process.env.TEMPORAL_ADDRESS)) {
  console.error(
    `npm run api serves the API only and needs DATABASE_URL (a PostgreSQL every process shares) and TEMPORAL_ADDRESS (the Temporal frontend the workers poll); ` +
      `${[!process.env.DATABASE_URL && 'DATABASE_URL', !process.env.TEMPORAL_ADDRESS && 'TEMPORAL_ADDRESS'].filter(Boolean).join(' and ')} unset. ` +
      'npm start runs the API and a worker in one process on the embedded defaults.',
  );
  process.exit(1);
}

// A first start without DRYDOCK_ADMIN_*: an admin with a generated password, shown once, so the UI can be signed into at once.
const generatedPassword = process.env.DRYDOCK_ADMIN_PASSWORD ? undefined : randomBytes(15).toString('base64url');
let createdFirstOperator = false;
const log = (m: string) => {
  if (m.startsWith('created the first operator')) createdFirstOperator = true;
  console.log(m);
};

try {
  const cp = await startControlPlane({
    log,
    firstOperator: {
      email: process.env.DRYDOCK_ADMIN_EMAIL || 'admin@localhost',
      password: process.env.DRYDOCK_ADMIN_PASSWORD || generatedPassword,
    },
    databaseUrl: process.env.DATABASE_URL || undefined,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    runWorker: !apiOnly,
    // The queue `npm run worker` polls (DRYDOCK_TASK_QUEUE): the API starts upgrades on it.
    taskQueue: process.env.DRYDOCK_TASK_QUEUE || undefined,
    temporalUiUrl: process.env.TEMPORAL_UI_URL || undefined,
    codecEndpoint: process.env.DRYDOCK_CODEC_ENDPOINT || undefined,
    dataDir: process.env.DRYDOCK_DATA_DIR || undefined,
    caDir: process.env.DRYDOCK_CA_DIR || undefined,
    uiDir: process.env.DRYDOCK_UI_DIR || undefined,
    port: process.env.PORT ? Number(process.env.PORT) : 3000,
    host: process.env.HOST || '127.0.0.1',
    defaultImageTag: defaultImageTagFromEnv(),
    frontDoor: frontDoorFromEnv(process.env.DRYDOCK_FRONT_DOOR),
    parkTimeoutMs: process.env.DRYDOCK_PARK_TIMEOUT_HOURS ? Number(process.env.DRYDOCK_PARK_TIMEOUT_HOURS) * 3_600_000 : undefined,
  });
  console.log(`drydock: ${cp.url}/ (API under ${cp.url}/api${apiOnly ? '; API only: upgrades run on `npm run worker` processes' : ''})`);
  if (createdFirstOperator && generatedPassword) {
    console.log(
      `first operator: ${process.env.DRYDOCK_ADMIN_EMAIL || 'admin@localhost'} with the password ${generatedPassword}\n` +
        '  (shown this once; change it with `npm run operator -- set-password` while drydock is stopped)',
    );
  }
  if (cp.temporalUiUrl) {
    console.log(
      `Temporal web console: ${cp.temporalUiUrl} (payloads are encrypted; signed in to drydock, turn on the console's ` +
        `codec setting "Include cross-origin credentials" once to read them there: see the README, "Keys")`,
    );
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    await cp.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  console.error(`drydock could not start: ${(err as Error).message}`);
  process.exit(1);
}
