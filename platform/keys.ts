/**
 * Where the control plane's secret keys come from: DRYDOCK_SECRET_KEY when it
 * is set (every process of a multi-process control plane must be given the
 * same keys), else the key file `<dataDir>/secret.keys`, generated once with
 * one key (mode 0600). Back the keys up with the database: without them,
 * instance secrets and Temporal payloads cannot be read.
 *
 * Rotation: put a new key first (in the variable or the file) and keep the
 * old ones after it; new data is sealed with the first, old data still opens.
 */
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createKeyring, generateKey, parseKeys, type Keyring } from '../core/keyring.js';

export const KEY_FILE = 'secret.keys';

export interface KeySource {
  /** The value of DRYDOCK_SECRET_KEY, if set. */
  envValue?: string;
  dataDir: string;
  log?: (m: string) => void;
}

export async function loadKeyring({ envValue, dataDir, log = () => {} }: KeySource): Promise<Keyring> {
  if (envValue && envValue.trim() !== '') return createKeyring(parseKeys(envValue, 'DRYDOCK_SECRET_KEY'));
  const file = path.join(dataDir, KEY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) {
      log(`warning: ${file} was readable by others (mode ${mode.toString(8)}); set to 0600`);
      await chmod(file, 0o600);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dataDir, { recursive: true });
    text = `# drydock's secret keys: the first seals, all open. Back this file up with the database.\n${generateKey()}\n`;
    const tmp = `${file}.tmp-${process.pid}-${randomUUID()}`;
    await writeFile(tmp, text, { mode: 0o600 });
    // link, not rename: when two processes start at once, the first key file wins and both use it.
    const won = await link(tmp, file).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        return false;
      },
    );
    await rm(tmp, { force: true });
    if (won) log(`secret key: generated ${file} (back it up with the database; or set DRYDOCK_SECRET_KEY)`);
    else text = await readFile(file, 'utf8');
  }
  return createKeyring(parseKeys(text, file));
}

export function keyringFromEnv(dataDir: string, log?: (m: string) => void): Promise<Keyring> {
  return loadKeyring({ envValue: process.env.DRYDOCK_SECRET_KEY, dataDir, log });
}
