/**
 * Opens the database: a real PostgreSQL when a URL is given, otherwise an
 * embedded PGlite served over a local socket so Prisma's pg adapter can talk
 * to it like any server. Migrations are applied before Prisma is handed out.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { unavailable } from '../core/errors.js';
import { PrismaClient } from './generated/client.js';
import { applyMigrations, type SqlClient } from './migrate.js';

/** One SQL statement with $1… parameters, straight to the pool Prisma uses: rows as pg parses them. */
export type Sql = <R = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * The pools behind the clients openDatabase made. A hot statement (one per
 * agent call, one per step) skips Prisma's query compiler and interpreter,
 * about 0.3 ms of CPU per statement (measured with 1,000 calls: Prisma's
 * $queryRaw 347 µs, pg 44–95 µs), on the same connections and transactions.
 */
const pools = new WeakMap<PrismaClient, { pool: pg.Pool; prepare: boolean }>();

/**
 * A statement's name on a PostgreSQL server: pg prepares it once per
 * connection, after which each call is only bound and run. Unnamed, the
 * server parses and plans it on every call: 0.36 against 0.20 ms of the
 * server's CPU for the approval look-up and the step's progress write
 * together (4,000 pairs each way, alternating). Not on PGlite: its socket
 * server runs every connection in one session, so a statement prepared over
 * a connection that closed is still there when the next one prepares it.
 */
const statementNames = new Map<string, string>();
function named(text: string, values?: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `drydock_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`));
  return { name, text, values };
}

/**
 * The Sql of a client: on the pool for a client openDatabase made; through
 * Prisma's raw query for any other, such as a transaction's client, so the
 * statement runs inside that transaction and sees its changes.
 */
export function sqlOf(prisma: PrismaClient): Sql {
  const held = pools.get(prisma);
  if (held) return async (text, values) => (await held.pool.query(held.prepare ? named(text, values) : { text, values })).rows;
  return (text, values) => prisma.$queryRawUnsafe(text, ...(values ?? []));
}

/**
 * A parameter holding an ISO time (nowIso()), written to a \`timestamp\`
 * column as the UTC time Prisma writes for a DateTime: neither the session's
 * nor the process's time zone shifts it.
 */
export const utcParam = (n: number) => `$${n}::timestamptz AT TIME ZONE 'UTC'`;
export const nowIso = () => new Date().toISOString();

/** Prisma over a pool drydock holds, so sqlOf can reach it too; close() ends both. */
function clientOn(pool: pg.Pool, prepare: boolean): { prisma: PrismaClient; close(): Promise<void> } {
  // An idle connection the server drops must not crash the process (Prisma listens only once it has connected).
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  pools.set(prisma, { pool, prepare });
  return {
    prisma,
    async close() {
      await prisma.$disconnect();
      if (!pool.ending && !pool.ended) await pool.end();
    },
  };
}

export interface Database {
  prisma: PrismaClient;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  url?: string;
  dataDir?: string;
  log?: (msg: string) => void;
}

const defaultDataDir = fileURLToPath(new URL('../.data/pglite', import.meta.url));

// Fail fast instead of hanging on a black-holed host.
const CONNECT_TIMEOUT_MS = 5_000;

export async function openDatabase(opts: OpenOptions = {}): Promise<Database> {
  const log = opts.log ?? (() => {});
  return opts.url ? openServer(opts.url, log) : openEmbedded(opts.dataDir ?? defaultDataDir, log);
}

async function openServer(url: string, log: (msg: string) => void): Promise<Database> {
  const where = hostPort(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // Without a listener, a server-side disconnect while idle would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw unavailable('database', `${where}: ${reason(err)}`);
  }
  try {
    logApplied(await applyMigrations(client), log);
  } finally {
    await client.end().catch(() => {});
  }

  const { prisma, close } = clientOn(new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }), true);
  return { prisma, url, embedded: false, close };
}

async function openEmbedded(dataDir: string, log: (msg: string) => void): Promise<Database> {
  // PGlite creates only the last path segment itself.
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  let server: PGLiteSocketServer | undefined;
  try {
    // Migrate in-process, before the socket exists: the socket server accepts one
    // connection at a time, so nothing can connect before the schema is ready.
    logApplied(await applyMigrations(pgliteClient(db)), log);

    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
    await server.start();
    const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
    log(`embedded PostgreSQL (PGlite) in ${dataDir}, serving ${url}`);

    // The socket server refuses a second connection (the client sees "Connection
    // terminated unexpectedly"), so the pool must never open one. Keeping the idle
    // connection (idleTimeoutMillis 0) avoids reconnect churn.
    const { prisma, close } = clientOn(new pg.Pool({ connectionString: url, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }), false);
    const running = server;
    return {
      prisma,
      url,
      embedded: true,
      async close() {
        await close();
        await running.stop();
        await db.close();
      },
    };
  } catch (err) {
    await server?.stop().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
}

/** pg-style query() over PGlite: its query() takes one statement, exec() a whole script. */
function pgliteClient(db: PGlite): SqlClient {
  return {
    async query(text, values) {
      if (values) return db.query(text, values);
      const results = await db.exec(text);
      return { rows: results.at(-1)?.rows ?? [] };
    },
  };
}

function logApplied(names: string[], log: (msg: string) => void) {
  for (const name of names) log(`applied migration ${name}`);
}

/** host:port for messages; never the credentials in the URL. */
function hostPort(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}`;
  } catch {
    return 'the configured URL';
  }
}

function reason(err: unknown): string {
  // Node reports a refused dual-stack connect as an AggregateError with an empty message.
  if (err instanceof AggregateError && !err.message) return reason(err.errors[0]);
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}
