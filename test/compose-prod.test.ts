/**
 * docker-compose.prod.yml as Compose v1 itself reads it (`docker-compose
 * config`: the file's schema, variables and anchors resolved), and the search
 * attributes registered from the one list in workflows/surface.ts on the test
 * Temporal dev server. The compose file's public images (postgres,
 * temporalio/*, nginx) cannot be pulled on this machine, so it is validated
 * here, not started; docs/DEPLOY-image.md says what was run.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { registerSearchAttributes } from '../platform/search-attributes.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/surface.js';
import { uniqueName, waitFor } from './support.js';

const run = promisify(execFile);
const REQUIRED = { DRYDOCK_DB_PASSWORD: 'db-pw-1', TEMPORAL_DB_PASSWORD: 'temporal-pw-2', DRYDOCK_SECRET_KEY: 'a2V5LWZvci10aGUtY29tcG9zZS10ZXN0LTMyYnl0ZXM=' };

async function composeConfig(file: string, env: Record<string, string>) {
  // Only the given variables: the developer's own DRYDOCK_* must not fill the gaps.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DRYDOCK_|TEMPORAL_)/.test(k)));
  const { stdout } = await run('docker-compose', ['-f', path.join(REPO_ROOT, file), 'config'], { env: { ...clean, ...env } });
  return parse(stdout);
}

describe('docker-compose.prod.yml', () => {
  it('has two APIs and two workers on one image with the same settings, each database its own, and the console decoding through /codec', async () => {
    const { services } = await composeConfig('docker-compose.prod.yml', { ...REQUIRED, DRYDOCK_IMAGE: 'drydock:1.2.3', DRYDOCK_PUBLIC_URL: 'https://drydock.example.com' });
    const drydock = ['api-1', 'api-2', 'worker-1', 'worker-2'];
    expect(drydock.map((s) => services[s].command)).toEqual([['api'], ['api'], ['worker'], ['worker']]);
    for (const s of drydock) {
      expect(services[s].image).toBe('drydock:1.2.3');
      // What must agree across processes is one block: database, Temporal, keys, the shared data (CA) volume.
      expect(services[s].environment).toEqual(services['api-1'].environment);
      expect(services[s].volumes).toEqual(['drydock-data:/var/lib/drydock:rw']);
    }
    expect(services['api-1'].environment).toMatchObject({
      DATABASE_URL: 'postgresql://drydock:db-pw-1@postgres:5432/drydock',
      TEMPORAL_ADDRESS: 'temporal:7233',
      DRYDOCK_SECRET_KEY: REQUIRED.DRYDOCK_SECRET_KEY,
      DRYDOCK_TRUST_PROXY: '1',
    });
    // Workers serve no HTTP, so the image's /healthz check is off for them; they get time to drain.
    expect(services['worker-1'].healthcheck).toEqual({ test: ['NONE'] });
    expect(services['worker-1'].stop_grace_period).toBe('60s');
    expect(services['api-1'].healthcheck).toBeUndefined();
    // Temporal keeps its state in a PostgreSQL of its own.
    expect(services.temporal.environment).toMatchObject({ POSTGRES_SEEDS: 'temporal-postgresql', POSTGRES_PWD: 'temporal-pw-2' });
    expect(services.postgres.environment).toMatchObject({ POSTGRES_DB: 'drydock', POSTGRES_PASSWORD: 'db-pw-1' });
    // The search attributes come from the drydock image (workflows/surface.ts), before any drydock process starts.
    expect(services['temporal-search-attributes']).toMatchObject({ image: 'drydock:1.2.3', command: ['search-attributes'], environment: { TEMPORAL_ADDRESS: 'temporal:7233' } });
    expect(services['api-1'].depends_on['temporal-search-attributes']).toEqual({ condition: 'service_completed_successfully' });
    for (const s of ['api-2', 'worker-1', 'worker-2']) expect(services[s].depends_on['api-1']).toEqual({ condition: 'service_healthy' });
    expect(services['temporal-ui'].environment).toMatchObject({
      TEMPORAL_CODEC_ENDPOINT: 'https://drydock.example.com/codec',
      TEMPORAL_CODEC_INCLUDE_CREDENTIALS: 'true',
    });
    // The load balancer spreads over both APIs and passes the client's address on (one trusted hop).
    // `config` prints `$` escaped as `$$`, so its output reads back the same; the container gets one `$`.
    const lb = services.lb.command.join(' ').replaceAll('$$', '$');
    expect(lb).toContain('server api-1:3000');
    expect(lb).toContain('server api-2:3000');
    expect(lb).toContain('X-Forwarded-For $proxy_add_x_forwarded_for');
    expect(services.lb.ports).toEqual(['127.0.0.1:3000:80/tcp']);
  });

  it('refuses to start without a secret key or database passwords, naming the variable', async () => {
    for (const missing of Object.keys(REQUIRED)) {
      const env = Object.fromEntries(Object.entries(REQUIRED).filter(([k]) => k !== missing));
      await expect(composeConfig('docker-compose.prod.yml', env)).rejects.toThrow(new RegExp(`set ${missing}`));
    }
  });

  it("docker-compose.temporal.yml's search attribute job registers exactly workflows/surface.ts's list", async () => {
    // That file's job runs Temporal's admin tools (no drydock image), so it spells the names out; they must not drift.
    const job = (await readFile(path.join(REPO_ROOT, 'docker-compose.temporal.yml'), 'utf8')).match(/for a in ([\w ]+?);/);
    expect(job?.[1]!.split(' ')).toEqual(SEARCH_ATTRIBUTE_NAMES);
  });
});

describe('registerSearchAttributes on the test Temporal dev server', () => {
  const namespace = uniqueName('sa-test-');
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('adds the missing ones as Keyword, then changes nothing when run again', async () => {
    const added = await waitFor('the new namespace to take search attributes', () => registerSearchAttributes(connection, namespace).catch(() => undefined), 30_000, 500);
    expect(added).toEqual(SEARCH_ATTRIBUTE_NAMES);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of SEARCH_ATTRIBUTE_NAMES) expect(customAttributes![name]).toBe(temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    expect(await registerSearchAttributes(connection, namespace)).toEqual([]);
  });

  it('refuses a namespace where one of them exists with another type, naming it', async () => {
    const other = uniqueName('sa-wrong-');
    await connection.workflowService.registerNamespace({ namespace: other, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
    await waitFor('the namespace to take a search attribute', () =>
      connection.operatorService
        .addSearchAttributes({ namespace: other, searchAttributes: { ImageTag: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT } })
        .then(() => true, () => undefined), 30_000, 500);
    await expect(registerSearchAttributes(connection, other)).rejects.toThrow(/ImageTag of namespace .* another type than Keyword/);
  });
});
