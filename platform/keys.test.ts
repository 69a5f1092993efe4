import { mkdtemp, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKey } from '../core/keyring.js';
import { KEY_FILE, loadKeyring } from './keys.js';

describe('loadKeyring', () => {
  it('generates the key file once (mode 0600) and reuses it; concurrent starts agree on one key', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-keys-'));
    const [a, b] = await Promise.all([loadKeyring({ dataDir: dir }), loadKeyring({ dataDir: dir })]);
    expect(a.currentKeyId).toBe(b.currentKeyId);
    expect((await stat(path.join(dir, KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await loadKeyring({ dataDir: dir });
    expect(again.openString(a.sealString('kept'))).toBe('kept');
    expect(await readFile(path.join(dir, KEY_FILE), 'utf8')).toMatch(/^# drydock's secret keys/);
  });

  it('prefers DRYDOCK_SECRET_KEY and writes no file then', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-keys-'));
    const ring = await loadKeyring({ envValue: generateKey(), dataDir: dir });
    expect(ring.keyIds).toHaveLength(1);
    await expect(stat(path.join(dir, KEY_FILE))).rejects.toThrow(/ENOENT/);
  });
});
