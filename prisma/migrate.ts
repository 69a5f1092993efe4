/**
 * Applies prisma/migrations ourselves because Prisma's migration engine can't
 * be downloaded where drydock runs. Bookkeeping goes into Prisma's own
 * `_prisma_migrations` table with Prisma's semantics, so a later
 * `prisma migrate deploy` (where engines exist) sees these as applied.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Anything with pg's `query()`: pg.Client, a pool client, or a thin PGlite wrapper. */
export interface SqlClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export const defaultMigrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

// The key Prisma's own migrate uses, so our runner and `prisma migrate` also exclude each other.
const LOCK_KEY = 72707369;

// Column for column what Prisma's schema engine creates.
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Like Prisma, tolerate a CRLF/LF-only difference (e.g. a Windows checkout). */
function matchesChecksum(script: string, checksum: string): boolean {
  const lf = script.replace(/\r\n/g, '\n');
  return [script, lf, lf.replace(/\n/g, '\r\n')].some((s) => sha256(s) === checksum);
}

async function readMigrations(dir: string): Promise<{ name: string; script: string }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // byte order, as Prisma sorts
  const migrations = [];
  for (const name of names) {
    const script = await readFile(join(dir, name, 'migration.sql'), 'utf8').catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (script !== undefined) migrations.push({ name, script });
  }
  return migrations;
}

async function tryLock(client: SqlClient): Promise<boolean> {
  try {
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY})`);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // undefined_function / feature_not_supported: a Postgres-alike without advisory locks.
    if (code === '42883' || code === '0A000') return false;
    throw err;
  }
}

/**
 * Applies, in name order, each `<migrationsDir>/<name>/migration.sql` not yet
 * recorded, each in its own transaction. Returns the names newly applied.
 */
export async function applyMigrations(
  client: SqlClient,
  migrationsDir: string = defaultMigrationsDir,
): Promise<string[]> {
  const migrations = await readMigrations(migrationsDir);
  const locked = await tryLock(client);
  try {
    // Only after the lock: a concurrent runner may have just created or filled the table.
    await client.query(CREATE_TABLE);
    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const recorded = new Map<string, { checksum: string; finished_at: Date | null }>(
      rows.map((r) => [r.migration_name, r]),
    );

    const pending = [];
    for (const m of migrations) {
      const row = recorded.get(m.name);
      if (!row) {
        pending.push(m);
      } else if (row.finished_at === null) {
        throw new Error(
          `Migration ${m.name} is recorded as started but never finished in _prisma_migrations; ` +
            `fix the database by hand, then mark it with \`prisma migrate resolve\`.`,
        );
      } else if (!matchesChecksum(m.script, row.checksum)) {
        throw new Error(
          `Migration ${m.name} was modified after it was applied ` +
            `(checksum ${row.checksum} in _prisma_migrations, ${sha256(m.script)} on disk); ` +
            `restore the original migration.sql and put the change in a new migration.`,
        );
      }
    }

    const applied: string[] = [];
    for (const m of pending) {
      await client.query('BEGIN');
      try {
        await client.query(m.script);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, clock_timestamp(), 1)`,
          [randomUUID(), sha256(m.script), m.name],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`).catch(() => {});
  }
}
