/**
 * Which relative paths drydock may write into a tenant's compose directory.
 * The control plane checks its template manifest with these rules and the
 * agent checks every file it is asked to write again, so this module must
 * stay free of dependencies (no node: imports): the same code runs on both
 * sides and in workflow code.
 */
import { TENANT_CONTENT_DIRS } from './types.js';

/**
 * Lexical segments of a path, `.` and empty segments dropped and `..` applied.
 * Both separators count, since a Windows-built path must not slip past as one
 * segment. Undefined when `..` climbs above the root: such a path is outside
 * the tenant dir altogether.
 */
function lexicalSegments(p: string): string[] | undefined {
  const out: string[] = [];
  for (const seg of p.split(/[/\\]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else {
      out.push(seg);
    }
  }
  return out;
}

/**
 * True when `p` is, or lies under, one of the tenant-owned directories
 * (mkdocs/, configs/, scripts/). Compared case-insensitively: on a
 * case-insensitive file system (Docker Desktop on macOS) `Configs/x` is the
 * tenant's file too. A path that climbs out of the tenant dir is not tenant
 * content; checkManagedPath rejects it for its own reason.
 */
export function isTenantContentPath(p: string): boolean {
  const first = lexicalSegments(p)?.[0]?.toLowerCase();
  return first !== undefined && TENANT_CONTENT_DIRS.some((d) => d.toLowerCase() === first);
}

/** Which rule a path breaks, named as the agent reports it (tenant/files.ts PathRule). */
export type ManagedPathRule =
  | 'empty'
  | 'nul'
  | 'control-character'
  | 'backslash'
  | 'absolute'
  | 'drive-letter'
  | 'traversal'
  | 'not-normalized'
  | 'reserved-key'
  | 'tenant-content';

export interface PathProblem {
  rule: ManagedPathRule;
  /** Reads after "the path …". */
  problem: string;
}

/**
 * The structural rules shared by managed paths and template names: relative,
 * `/`-separated, already normalized. Normalized-only (rather than normalizing
 * silently) so that one file has exactly one spelling, which is what makes
 * duplicate detection and the agent's check exact.
 */
export function relativePathProblem(p: string): PathProblem | undefined {
  const at = (rule: ManagedPathRule, problem: string): PathProblem => ({ rule, problem });
  if (p.length === 0) return at('empty', 'is empty');
  if (p.includes('\0')) return at('nul', 'contains a NUL byte');
  if (/[\u0001-\u001f\u007f]/.test(p)) return at('control-character', 'contains a control character');
  if (p.includes('\\')) return at('backslash', 'contains a backslash (use "/" as the separator)');
  if (p.startsWith('/')) return at('absolute', 'is absolute (it must be relative to the compose directory)');
  if (/^[A-Za-z]:/.test(p)) return at('drive-letter', 'starts with a drive letter (it must be relative to the compose directory)');
  const segments = p.split('/');
  if (segments.includes('..')) return at('traversal', 'contains a ".." segment');
  if (segments.some((s) => s === '' || s === '.')) {
    return at('not-normalized', `is not normalized (write it as "${lexicalSegments(p)?.join('/') ?? ''}")`);
  }
  return undefined;
}

/** The problem with `p` as a path drydock writes, with the rule it breaks, or undefined when it may be written. */
export function managedPathProblem(p: string): PathProblem | undefined {
  const structural = relativePathProblem(p);
  if (structural) return structural;
  // Files travel in objects keyed by path (reads, snapshots, restores): this key would set the prototype instead.
  if (p === '__proto__') return { rule: 'reserved-key', problem: 'is "__proto__", which cannot be a key of the path-keyed records files travel in' };
  if (isTenantContentPath(p)) {
    return { rule: 'tenant-content', problem: `is tenant-owned content (drydock never writes under ${TENANT_CONTENT_DIRS.map((d) => `${d}/`).join(', ')})` };
  }
  return undefined;
}

/** relativePathProblem's text alone. */
export function checkRelativePath(p: string): string | undefined {
  return relativePathProblem(p)?.problem;
}

/** managedPathProblem's text alone. */
export function checkManagedPath(p: string): string | undefined {
  return managedPathProblem(p)?.problem;
}
