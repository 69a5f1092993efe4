/**
 * `npm run search-attributes`: registers drydock's search attributes on the
 * Temporal server at TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE, default
 * `default`), waiting up to a minute for the server to answer, as a one-shot
 * job beside a server that is still starting does. Safe to run again.
 */
import { Connection } from '@temporalio/client';
import { registerSearchAttributes } from '../platform/search-attributes.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/surface.js';

const address = process.env.TEMPORAL_ADDRESS;
const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
if (!address) {
  console.error('npm run search-attributes needs TEMPORAL_ADDRESS (host:port of the Temporal frontend)');
  process.exit(1);
}

async function connect(deadline: number): Promise<Connection> {
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} did not answer within 60 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

try {
  const connection = await connect(Date.now() + 60_000);
  const added = await registerSearchAttributes(connection, namespace);
  console.log(
    added.length
      ? `search attributes of namespace ${namespace}: added ${added.join(', ')} (Keyword)`
      : `search attributes of namespace ${namespace}: ${SEARCH_ATTRIBUTE_NAMES.join(', ')} exist already`,
  );
  await connection.close();
} catch (err) {
  console.error(`search attributes not registered: ${(err as Error).message}`);
  process.exit(1);
}
