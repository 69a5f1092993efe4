import { readdirSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, sqlOf, type Database } from './db.js';
import { applyMigrations, defaultMigrationsDir } from './migrate.js';

const INIT = '20261126230000_init';
const initSql = () => readFile(join(defaultMigrationsDir, INIT, 'migration.sql'), 'utf8');
/** Every migration folder, in the order they apply. */
const ALL = readdirSync(defaultMigrationsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const checksumOf = async (name: string) => sha256(await readFile(join(defaultMigrationsDir, name, 'migration.sql'), 'utf8'));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const newInstance = (slug: string) => ({
  slug,
  name: `Instance ${slug}`,
  composeProjectName: `drydock-${slug}`,
  composeDir: `/srv/${slug}`,
  coreServices: ['db', 'api'],
});

describe('a real PostgreSQL server', () => {
  const admin = 'postgresql://postgres@127.0.0.1:5432/test';
  const dbName = `drydock_test_${randomUUID().replace(/-/g, '')}`;
  const url = `postgresql://postgres@127.0.0.1:5432/${dbName}`;
  const logs: string[] = [];
  let database: Database;

  const withClient = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    await withAdmin(admin, (c) => c.query(`CREATE DATABASE "${dbName}"`));
    database = await openDatabase({ url, log: (m) => logs.push(m) });
  });

  afterAll(async () => {
    await database?.close();
    await withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  });

  it('applies the migrations on open', () => {
    expect(database.embedded).toBe(false);
    expect(logs).toContain(`applied migration ${INIT}`);
  });

  it('applies nothing on a second run', async () => {
    expect(await withClient((c) => applyMigrations(c))).toEqual([]);
  });

  it('records each migration in _prisma_migrations with the sha256 of its file', async () => {
    const { rows } = await withClient((c) =>
      c.query(`SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name`),
    );
    const expected = [];
    for (const name of ALL) {
      expected.push({ migration_name: name, checksum: await checksumOf(name), finished_at: expect.any(Date), applied_steps_count: 1, rolled_back_at: null });
    }
    expect(rows).toEqual(expected);
  });

  it('refuses a migration file changed after it was applied, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drydock-migrations-'));
    try {
      await cp(defaultMigrationsDir, dir, { recursive: true });
      await writeFile(join(dir, INIT, 'migration.sql'), `${await initSql()}\n-- edited\n`);
      await expect(withClient((c) => applyMigrations(c, dir))).rejects.toThrow(
        new RegExp(`Migration ${INIT} was modified after it was applied`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies only the new migration when one is added', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drydock-migrations-'));
    try {
      await cp(defaultMigrationsDir, dir, { recursive: true });
      await cp(join(dir, INIT), join(dir, '20991231000000_extra'), { recursive: true });
      await writeFile(join(dir, '20991231000000_extra', 'migration.sql'), 'CREATE TABLE "Extra" (id int);');
      await expect(withClient((c) => applyMigrations(c, dir))).resolves.toEqual(['20991231000000_extra']);
      await expect(withClient((c) => applyMigrations(c, dir))).resolves.toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets two runners migrate at once without applying anything twice', async () => {
    const fresh = `${dbName}_race`;
    await withAdmin(admin, (c) => c.query(`CREATE DATABASE "${fresh}"`));
    const clients = [0, 1].map(
      () => new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:5432/${fresh}` }),
    );
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const results = await Promise.all(clients.map((c) => applyMigrations(c)));
      expect(results.flat().sort()).toEqual(ALL);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${fresh}" WITH (FORCE)`));
    }
  });

  it('creates and reads back an Instance through Prisma', async () => {
    const created = await database.prisma.instance.create({ data: newInstance('alpha') });
    const read = await database.prisma.instance.findUniqueOrThrow({ where: { slug: 'alpha' } });
    expect(read).toEqual(created);
    expect(read.coreServices).toEqual(['db', 'api']);
  });

  it('runs the hot statements as prepared statements, parsed once per connection and then only bound', async () => {
    const sql = sqlOf(database.prisma);
    const text = 'SELECT slug FROM "Instance" WHERE slug = $1';
    for (const slug of ['alpha', 'nobody', 'alpha']) expect(await sql(text, [slug])).toEqual(slug === 'alpha' ? [{ slug }] : []);
    // Run one after another, the statements share the pool's most recently released connection.
    const prepared = await sql<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY statement');
    expect(prepared.filter((p) => p.statement === text)).toEqual([{ name: expect.stringMatching(/^drydock_[0-9a-f]{20}$/), statement: text }]);
  });

  it('keeps a prepared statement usable after its connection is gone', async () => {
    const sql = sqlOf(database.prisma);
    const text = 'SELECT slug FROM "Instance" WHERE slug = $1 AND $2::int = 2';
    expect(await sql(text, ['alpha', 2])).toEqual([{ slug: 'alpha' }]);
    await withClient((c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"));
    await new Promise((r) => setTimeout(r, 100));
    expect(await sql(text, ['alpha', 2])).toEqual([{ slug: 'alpha' }]);
  });
});

describe('the embedded PGlite database', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'drydock-pglite-')), 'nested', 'pglite');
  });

  afterAll(async () => {
    await rm(join(dataDir, '..', '..'), { recursive: true, force: true });
  });

  it('applies the migrations once and keeps data across close and reopen', async () => {
    const firstLogs: string[] = [];
    const first = await openDatabase({ dataDir, log: (m) => firstLogs.push(m) });
    try {
      expect(first.embedded).toBe(true);
      expect(first.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      expect(firstLogs).toContain(`applied migration ${INIT}`);
      await first.prisma.instance.create({ data: newInstance('beta') });
    } finally {
      await first.close();
    }

    const secondLogs: string[] = [];
    const second = await openDatabase({ dataDir, log: (m) => secondLogs.push(m) });
    try {
      expect(secondLogs.filter((m) => m.startsWith('applied migration'))).toEqual([]);
      const read = await second.prisma.instance.findUniqueOrThrow({ where: { slug: 'beta' } });
      expect(read).toMatchObject(newInstance('beta'));
      const rows = await second.prisma.$queryRaw<{ migration_name: string; checksum: string }[]>`
        SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name`;
      expect(rows).toEqual(await Promise.all(ALL.map(async (name) => ({ migration_name: name, checksum: await checksumOf(name) }))));
    } finally {
      await second.close();
    }
  });

  it('serves several Prisma queries and a transaction over its single connection', async () => {
    const database = await openDatabase({ dataDir });
    try {
      await database.prisma.$transaction([
        database.prisma.instance.create({ data: newInstance('gamma') }),
        database.prisma.instance.create({ data: newInstance('delta') }),
      ]);
      const counts = await Promise.all([1, 2, 3].map(() => database.prisma.instance.count()));
      expect(counts).toEqual([3, 3, 3]);
    } finally {
      await database.close();
    }
  });

  it('refuses to open when a recorded checksum no longer matches the file, naming the migration', async () => {
    const setChecksum = async (checksum: string) => {
      const db = await PGlite.create(dataDir);
      await db.query(`UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2`, [checksum, INIT]);
      await db.close();
    };
    await setChecksum('0'.repeat(64));
    await expect(openDatabase({ dataDir })).rejects.toThrow(`Migration ${INIT} was modified`);
    await setChecksum(sha256(await initSql()));
    const again = await openDatabase({ dataDir });
    await again.close();
  });
});

describe('an unreachable database', () => {
  it('rejects quickly with a message saying the database is unreachable', async () => {
    const started = Date.now();
    const error = await openDatabase({ url: 'postgresql://127.0.0.1:1/x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('database is unreachable') });
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
