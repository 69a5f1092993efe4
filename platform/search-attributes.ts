/**
 * Registers drydock's search attributes (workflows/surface.ts, the one list)
 * on a Temporal server that drydock did not start: a cluster, or the server of
 * docker-compose.prod.yml, where a one-shot job runs
 * `npm run search-attributes`. The dev server drydock starts gets them on its
 * command line instead (temporal-server.ts).
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/surface.js';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/**
 * Adds those that are missing, as Keyword; running it again changes nothing.
 * One that exists with another type is an error naming it (Temporal cannot
 * change a type, and drydock's queries need Keyword). Returns the names added.
 */
export async function registerSearchAttributes(connection: Connection, namespace = 'default'): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = customAttributes ?? {};
  const wrong = SEARCH_ATTRIBUTE_NAMES.filter((n) => n in existing && existing[n] !== KEYWORD);
  if (wrong.length) {
    throw new Error(
      `the search attribute${wrong.length > 1 ? 's' : ''} ${wrong.join(', ')} of namespace ${namespace} ` +
        `exist${wrong.length > 1 ? '' : 's'} with another type than Keyword; drydock needs Keyword (remove ${wrong.length > 1 ? 'them' : 'it'} first)`,
    );
  }
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in existing));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, KEYWORD])),
    });
  }
  return missing;
}
