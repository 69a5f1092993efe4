/**
 * Starting the real Temporal dev server (the CLI the tests use): when it
 * exits before it answers, the error carries the end of its log, and a start
 * on free ports tries again with new ones before giving up.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevServerExited, findTemporalCli, startDevServerOnFreePorts } from './temporal-server.js';

describe('starting the Temporal dev server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-devserver-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says why it exited, from the end of its log, after trying new ports as many times as it was told', async () => {
    const logFile = path.join(dir, 'temporal.log');
    // A directory as the database file: SQLite cannot open it, so every start exits at once.
    const err = await startDevServerOnFreePorts({ cli: await findTemporalCli(), dbFile: dir, logFile }, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DevServerExited);
    expect((err as Error).message).toMatch(/exited with 1; the end of .*temporal\.log:\n[\s\S]*unable to open database file/);
    const starts = (await readFile(logFile, 'utf8')).match(/unable to open database file/g) ?? [];
    expect(starts).toHaveLength(2);
  });
});
