/**
 * WORKFLOWS MUST NOT IMPORT THIS MODULE: it uses node:crypto, which the
 * workflow sandbox does not provide. The API hashes a plan when it shows the
 * preview and again when the upgrade is confirmed, and activities compare it
 * before writing; workflow code only passes the hash along as a string.
 *
 * A plan is "write these contents over these current contents". If either
 * side changed between preview and apply (a new release was deployed, a
 * tenant edited a managed file), the hash changes and the operator must look
 * at the new preview.
 */
import { createHash } from 'node:crypto';

export interface PlannedFile {
  path: string;
  content: string;
}

// Bump when the encoding changes, so old and new hashes never match by accident.
const VERSION = 'drydock-plan-v1';

/**
 * sha256 (hex) over a canonical encoding: files sorted by path (code-unit
 * order, not locale order), each field length-prefixed so no two plans share
 * an encoding, a missing current file distinct from an empty one. Current
 * contents of paths the plan does not write are ignored: they are not part of
 * the plan.
 */
export function planHash(rendered: PlannedFile[], current: Record<string, string | undefined>): string {
  const files = [...rendered].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const h = createHash('sha256');
  // The string is hashed as UTF-8 without being copied into a Buffer first: the same bytes, half the work.
  const field = (s: string) => {
    h.update(`${Buffer.byteLength(s, 'utf8')}:`);
    h.update(s, 'utf8');
  };
  field(VERSION);
  h.update(`${files.length}\n`);
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    if (i > 0 && files[i - 1]!.path === f.path) throw new Error(`planHash: ${f.path} appears twice in the plan`);
    field(f.path);
    field(f.content);
    const now = Object.hasOwn(current, f.path) ? current[f.path] : undefined;
    if (now === undefined) h.update('-');
    else {
      h.update('+');
      field(now);
    }
  }
  return h.digest('hex');
}
