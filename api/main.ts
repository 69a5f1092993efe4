/**
 * `npm start`: the control plane on its embedded defaults. DATABASE_URL,
 * TEMPORAL_ADDRESS, PORT, IMAGE_TAG and DRYDOCK_DATA_DIR override them.
 */
import { startControlPlane } from './control-plane.js';

try {
  const cp = await startControlPlane({
    databaseUrl: process.env.DATABASE_URL || undefined,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    temporalUiUrl: process.env.TEMPORAL_UI_URL || undefined,
    dataDir: process.env.DRYDOCK_DATA_DIR || undefined,
    port: process.env.PORT ? Number(process.env.PORT) : 3000,
    host: process.env.HOST || '127.0.0.1',
    defaultImageTag: process.env.IMAGE_TAG || 'latest',
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
