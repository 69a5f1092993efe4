/**
 * Reading tenants' `.env` files and the variables a compose file references,
 * so a release preview can say which variables a tenant still has to set.
 * Tenants edit `.env` by hand, so parsing never throws: whatever compose
 * would not read is reported as a problem and skipped.
 *
 * Problems name lines and keys, never values: `.env` holds secrets and
 * problems end up in API responses and logs.
 */

/** One logical entry of a `.env` file: a physical line, or several for a multi-line quoted value. */
export type EnvEntry =
  | { kind: 'blank' | 'comment' | 'invalid'; line: number; source: string; eol: string }
  | {
      kind: 'assignment';
      line: number;
      source: string;
      eol: string;
      key: string;
      /** Everything up to and including the `=` (`export `, the key, spacing): never part of the value. */
      head: string;
      /** The value as written, quotes and inline comment included. */
      rawValue: string;
      /** The value compose sees. */
      value: string;
    };

export interface ScannedEnvFile {
  entries: EnvEntry[];
  problems: string[];
}

// Compose v2 accepts dots and dashes in keys; v1 is laxer still.
const ASSIGNMENT = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*)=/;
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

interface PhysicalLine {
  text: string;
  eol: string;
}

function physicalLines(text: string): PhysicalLine[] {
  const out: PhysicalLine[] = [];
  const re = /\r?\n/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ text: text.slice(start, m.index), eol: m[0] });
    start = m.index + m[0].length;
  }
  // A file ending in a newline has no last line after it.
  if (start < text.length) out.push({ text: text.slice(start), eol: '' });
  return out;
}

/**
 * Where a quoted value starting at `s[0]` closes, and what it means. Undefined
 * when the quote does not close in `s`.
 */
function closeQuote(s: string): { end: number; value: string } | undefined {
  const quote = s[0];
  let value = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === quote) return { end: i + 1, value };
    if (quote === '"' && c === '\\' && i + 1 < s.length) {
      const next = s[i + 1]!;
      // Unknown escapes stay as written, as in compose v2.
      value += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`;
      i++;
    } else {
      value += c;
    }
  }
  return undefined;
}

/** The entries of a `.env` file, in order, covering every character but a leading BOM. */
export function scanEnvFile(text: string): ScannedEnvFile {
  const lines = physicalLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const entries: EnvEntry[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number[]>();

  for (let i = 0; i < lines.length; i++) {
    const { text: first, eol: firstEol } = lines[i]!;
    const line = i + 1;
    const trimmed = first.trim();
    if (trimmed === '') {
      entries.push({ kind: 'blank', line, source: first, eol: firstEol });
      continue;
    }
    if (trimmed.startsWith('#')) {
      entries.push({ kind: 'comment', line, source: first, eol: firstEol });
      continue;
    }
    const m = ASSIGNMENT.exec(first);
    if (!m) {
      problems.push(
        first.includes('=')
          ? `line ${line}: not a KEY=value assignment (the name must be letters, digits and "_", not starting with a digit); ignored`
          : `line ${line}: no "=" in this line; ignored`,
      );
      entries.push({ kind: 'invalid', line, source: first, eol: firstEol });
      continue;
    }
    const key = m[2]!;
    const head = m[0];
    const afterEq = first.slice(head.length);
    const start = afterEq.trimStart();
    let value: string;
    let source = first;
    let eol = firstEol;

    if (start.startsWith('"') || start.startsWith("'")) {
      // A quoted value may run over several lines; join them until the quote closes.
      let joined = start;
      let last = i;
      let closed = closeQuote(joined);
      while (!closed && last + 1 < lines.length) {
        last++;
        joined += `\n${lines[last]!.text}`;
        closed = closeQuote(joined);
      }
      if (closed) {
        value = closed.value;
        const trailing = joined.slice(closed.end).trim();
        if (trailing !== '' && !trailing.startsWith('#')) {
          problems.push(`line ${line}: ${key} has text after its closing quote; ignored`);
        }
        for (let j = i + 1; j <= last; j++) source += `${lines[j - 1]!.eol}${lines[j]!.text}`;
        eol = lines[last]!.eol;
        i = last;
      } else {
        problems.push(`line ${line}: ${key} has an unterminated quote; the rest of the line is taken as written`);
        value = start.slice(1).trimEnd();
      }
    } else {
      // An unquoted value ends where an inline comment begins: a "#" after whitespace.
      const comment = /(^|\s)#/.exec(afterEq);
      value = (comment ? afterEq.slice(0, comment.index) : afterEq).trim();
    }

    entries.push({ kind: 'assignment', line, source, eol, key, head, rawValue: source.slice(head.length), value });
    const at = seen.get(key);
    if (at) at.push(line);
    else seen.set(key, [line]);
  }

  for (const [key, at] of seen) {
    if (at.length > 1) problems.push(`${key} is set more than once (lines ${at.join(', ')}); the last one wins`);
  }
  return { entries, problems };
}

/** The variables a `.env` file defines; duplicates resolve as compose does, the last one winning. */
export function parseEnvFile(text: string): { vars: Map<string, string>; problems: string[] } {
  const { entries, problems } = scanEnvFile(text);
  const vars = new Map<string, string>();
  for (const e of entries) if (e.kind === 'assignment') vars.set(e.key, e.value);
  return { vars, problems };
}

export interface ComposeVariableRef {
  name: string;
  /** Every reference has a fallback (`:-`, `-`, `:+`, `+`), so leaving it unset is harmless. */
  hasDefault: boolean;
  /** Some reference fails the compose command when unset (`?`, `:?`). */
  required: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATOR = /^(?::-|:\?|:\+|-|\?|\+)/;

interface Occurrence {
  name: string;
  hasDefault: boolean;
  required: boolean;
}

/** Interpolations in one stretch of text, which the caller has already cut at comments. */
function interpolations(s: string, out: Occurrence[]): void {
  for (let i = s.indexOf('$'); i !== -1; i = s.indexOf('$', i)) {
    const next = s[i + 1];
    if (next === '$') {
      i += 2; // `$$` is a literal dollar
      continue;
    }
    if (next !== '{') {
      const bare = NAME.exec(s.slice(i + 1));
      if (bare) out.push({ name: bare[0], hasDefault: false, required: false });
      i += 1 + (bare?.[0].length ?? 0);
      continue;
    }
    const name = NAME.exec(s.slice(i + 2))?.[0];
    if (!name) {
      i += 2; // compose rejects `${}` and `${1X}`; nothing to report as a variable
      continue;
    }
    let j = i + 2 + name.length;
    if (s[j] === '}') {
      out.push({ name, hasDefault: false, required: false });
      i = j + 1;
      continue;
    }
    const op = OPERATOR.exec(s.slice(j))?.[0];
    if (!op) {
      i = j;
      continue;
    }
    j += op.length;
    // Compose v2 allows references inside a default (`${A:-${B}}`), so find the matching brace.
    let depth = 1;
    let k = j;
    for (; k < s.length && depth > 0; k++) {
      if (s[k] === '$' && s[k + 1] === '$') k++;
      else if (s[k] === '$' && s[k + 1] === '{') {
        depth++;
        k++;
      } else if (s[k] === '}') depth--;
    }
    if (depth > 0) {
      i = j; // unterminated: compose rejects it
      continue;
    }
    const required = op.endsWith('?');
    out.push({ name, hasDefault: !required, required });
    if (!required) interpolations(s.slice(j, k - 1), out);
    i = k;
  }
}

/**
 * The text of a YAML line that compose interpolates: the line up to a comment.
 * An approximation of YAML good enough for compose files: a `#` after
 * whitespace (or at the start) begins a comment unless it is inside a quoted
 * scalar, and a quote opens a scalar only where a scalar can begin.
 */
function uncommented(line: string): string {
  let quote: '"' | "'" | undefined;
  let scalarStart = true;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = undefined;
      continue;
    }
    if (quote === "'") {
      if (c === "'" && line[i + 1] === "'") i++;
      else if (c === "'") quote = undefined;
      continue;
    }
    if ((c === '"' || c === "'") && scalarStart) {
      quote = c;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
    if (/[:\-[{,]/.test(c)) scalarStart = true;
    else if (!/\s/.test(c)) scalarStart = false;
  }
  return line;
}

/**
 * Variables a compose file interpolates, one entry per name, sorted. Covers
 * `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?msg}`, `${VAR?msg}` and
 * compose v2's `${VAR:+alt}`/`${VAR+alt}`; `$$` is a literal dollar and
 * comments are not interpolated.
 */
export function composeVariableRefs(composeText: string): ComposeVariableRef[] {
  const found: Occurrence[] = [];
  for (const line of composeText.split(/\r?\n/)) interpolations(uncommented(line), found);
  const byName = new Map<string, ComposeVariableRef>();
  for (const o of found) {
    const prev = byName.get(o.name);
    byName.set(
      o.name,
      prev
        ? { name: o.name, hasDefault: prev.hasDefault && o.hasDefault, required: prev.required || o.required }
        : { ...o },
    );
  }
  return [...byName.values()].sort((a, b) => compareStrings(a.name, b.name));
}

export interface EnvCoverage {
  referenced: string[];
  definedInTenantEnv: string[];
  /** Referenced without a default and not defined: compose substitutes "" (or fails, for `?`). */
  missingInTenantEnv: string[];
  /** Defined but never referenced; COMPOSE_* and DOCKER_* configure compose itself and don't count. */
  unusedInTenantEnv: string[];
  /** Problems reading the tenant's `.env`. */
  problems: string[];
}

const COMPOSE_SETTING = /^(?:COMPOSE|DOCKER)_/;

/** Code-unit order, so results don't depend on the server's locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How a tenant's `.env` covers what a compose file references. The process
 * environment is not considered: drydock sets only IMAGE_TAG there, and the
 * point is what the tenant's own file is missing.
 */
export function envCoverage(composeText: string, envText: string | undefined): EnvCoverage {
  const refs = composeVariableRefs(composeText);
  const { vars, problems } = envText === undefined ? { vars: new Map<string, string>(), problems: [] } : parseEnvFile(envText);
  const referenced = new Set(refs.map((r) => r.name));
  return {
    referenced: [...referenced],
    definedInTenantEnv: [...vars.keys()].sort(compareStrings),
    missingInTenantEnv: refs.filter((r) => !r.hasDefault && !vars.has(r.name)).map((r) => r.name),
    unusedInTenantEnv: [...vars.keys()].filter((k) => !referenced.has(k) && !COMPOSE_SETTING.test(k)).sort(compareStrings),
    problems,
  };
}
