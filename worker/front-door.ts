import type { FrontDoor } from '../core/types.js';

/**
 * DRYDOCK_FRONT_DOOR, `service:port/path` (e.g. `nginx:80/`): what a full
 * upgrade probes last. Read by both `npm start` and `npm run worker`, which
 * must agree. Unset: undefined (the default front door).
 */
export function frontDoorFromEnv(value: string | undefined): FrontDoor | undefined {
  if (!value) return undefined;
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(\d{1,5})(\/.*)?$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new Error(`DRYDOCK_FRONT_DOOR=${value} is not service:port/path (e.g. nginx:80/)`);
  }
  return { service: m[1]!, port: Number(m[2]), path: m[3] ?? '/' };
}
