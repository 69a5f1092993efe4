/**
 * `npm start`: the control plane on its embedded defaults. DATABASE_URL,
 * TEMPORAL_ADDRESS, PORT, IMAGE_TAG and DRYDOCK_DATA_DIR override them.
 */
import type { FrontDoor } from '../activities/index.js';
import { startControlPlane } from './control-plane.js';

/** `service:port/path`, e.g. `nginx:80/`: what the full upgrade probes last. */
function frontDoorFromEnv(value: string | undefined): FrontDoor | undefined {
  if (!value) return undefined;
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(\d{1,5})(\/.*)?$/.exec(value);
  if (!m) {
    console.error(`DRYDOCK_FRONT_DOOR=${value} is not service:port/path (e.g. nginx:80/)`);
    process.exit(1);
  }
  return { service: m[1]!, port: Number(m[2]), path: m[3] ?? '/' };
}

try {
  const cp = await startControlPlane({
    databaseUrl: process.env.DATABASE_URL || undefined,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    temporalUiUrl: process.env.TEMPORAL_UI_URL || undefined,
    dataDir: process.env.DRYDOCK_DATA_DIR || undefined,
    caDir: process.env.DRYDOCK_CA_DIR || undefined,
    port: process.env.PORT ? Number(process.env.PORT) : 3000,
    host: process.env.HOST || '127.0.0.1',
    defaultImageTag: process.env.IMAGE_TAG || 'latest',
    frontDoor: frontDoorFromEnv(process.env.DRYDOCK_FRONT_DOOR),
    parkTimeoutMs: process.env.DRYDOCK_PARK_TIMEOUT_HOURS ? Number(process.env.DRYDOCK_PARK_TIMEOUT_HOURS) * 3_600_000 : undefined,
  });
  console.log(`drydock API: ${cp.url}/api/instances`);
  if (cp.temporalUiUrl) console.log(`Temporal web console: ${cp.temporalUiUrl}`);
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
