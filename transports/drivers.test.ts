import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, withTenantLock } from '../tenant/lock.js';
import { createTenantDriver } from '../tenant/tenant.js';
import { lockedDriver } from './drivers.js';

describe('the local driver and the tenant lock', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('waits for the lock an agent holds on the same directory before it changes the tenant', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-lock-'));
    dirs.push(dir);
    const driver = lockedDriver(dir, createTenantDriver({ compose: 'v1' }, { projectName: 'lock', dir }));
    const events: string[] = [];
    let release!: () => void;
    const held = withTenantLock(dir, 60_000, async () => {
      events.push('agent holds the lock');
      await new Promise<void>((r) => (release = r));
      events.push('agent releases the lock');
    });
    await new Promise((r) => setTimeout(r, 50));
    const write = driver.writeFiles(['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services: {}\n' }]).then(() => events.push('local write done'));
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(path.join(dir, 'docker-compose.yml'))).toBe(false);
    release();
    await Promise.all([held, write]);
    expect(events).toEqual(['agent holds the lock', 'agent releases the lock', 'local write done']);
    expect(await readFile(path.join(dir, 'docker-compose.yml'), 'utf8')).toBe('services: {}\n');
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('waits for the lock file of another process (an agent serving the same directory)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-lock-'));
    dirs.push(dir);
    const driver = lockedDriver(dir, createTenantDriver({ compose: 'v1' }, { projectName: 'lock', dir }));
    // The lock file as a live agent process on this host writes it.
    await writeFile(path.join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.ppid, host: os.hostname(), at: Date.now(), token: 'agent' })}\n`);
    let done = false;
    const write = driver.writeFiles(['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services: {}\n' }]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 600));
    expect(done).toBe(false);
    expect(existsSync(path.join(dir, 'docker-compose.yml'))).toBe(false);
    await rm(path.join(dir, LOCK_FILE));
    await write;
    expect(await readFile(path.join(dir, 'docker-compose.yml'), 'utf8')).toBe('services: {}\n');
  });

  it('reads without the lock', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-lock-'));
    dirs.push(dir);
    const driver = lockedDriver(dir, createTenantDriver({ compose: 'v1' }, { projectName: 'lock', dir }));
    let release!: () => void;
    const held = withTenantLock(dir, 60_000, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    expect(await driver.readFiles(['docker-compose.yml'])).toEqual({ 'docker-compose.yml': null });
    release();
    await held;
  });
});
