import { describe, expect, it } from 'vitest';
import { composeVariableRefs, envCoverage, parseEnvFile } from './env-file.js';

const vars = (text: string) => Object.fromEntries(parseEnvFile(text).vars);

describe('parsing .env files', () => {
  it('reads plain assignments, skipping comments and blank lines', () => {
    const r = parseEnvFile('# header\n\nA=1\n  # indented comment\nB=two words\n');
    expect(Object.fromEntries(r.vars)).toEqual({ A: '1', B: 'two words' });
    expect(r.problems).toEqual([]);
  });

  it('accepts CRLF line endings and a missing final newline', () => {
    expect(vars('A=1\r\nB=2\r\nC=3')).toEqual({ A: '1', B: '2', C: '3' });
  });

  it('skips a leading byte order mark', () => expect(vars('\uFEFFA=1\n')).toEqual({ A: '1' }));

  it('accepts the export prefix and spaces around "="', () => {
    expect(vars('export A=1\nexport  B = 2\nexport=3\n')).toEqual({ A: '1', B: '2', export: '3' });
  });

  it('reads an empty value as the empty string', () => expect(vars('A=\nB=""\n')).toEqual({ A: '', B: '' }));

  it('keeps single-quoted values literally', () => {
    expect(vars(`A='x \\n $y # z'\n`)).toEqual({ A: 'x \\n $y # z' });
  });

  it('reads escapes in double-quoted values', () => {
    expect(vars('A="line1\\nline2\\t\\"q\\" \\\\ \\$x \\z"\n')).toEqual({ A: 'line1\nline2\t"q" \\ $x \\z' });
  });

  it('joins a quoted value that runs over several lines', () => {
    const r = parseEnvFile('A="one\r\ntwo"\nB=3\n');
    expect(Object.fromEntries(r.vars)).toEqual({ A: 'one\ntwo', B: '3' });
    expect(r.problems).toEqual([]);
  });

  it('cuts an inline comment only where "#" follows whitespace', () => {
    expect(vars('A=abc # note\nB=abc#def\nC="x" # note\nD= #only a comment\n')).toEqual({ A: 'abc', B: 'abc#def', C: 'x', D: '' });
  });

  it('lets the last of duplicate keys win and reports the duplicate', () => {
    const r = parseEnvFile('A=1\nB=2\nA=3\n');
    expect(r.vars.get('A')).toBe('3');
    expect(r.problems).toEqual(['A is set more than once (lines 1, 3); the last one wins']);
  });

  it('reports garbage lines by number and keeps going', () => {
    const r = parseEnvFile('A=1\njust words\n1BAD=x\nB=2\n');
    expect(Object.fromEntries(r.vars)).toEqual({ A: '1', B: '2' });
    expect(r.problems).toEqual([
      'line 2: no "=" in this line; ignored',
      'line 3: not a KEY=value assignment (the name must be letters, digits and "_", not starting with a digit); ignored',
    ]);
  });

  it('takes an unterminated quote as written to the end of its line, and reports it', () => {
    const r = parseEnvFile('A="open\nB=2\n');
    expect(Object.fromEntries(r.vars)).toEqual({ A: 'open', B: '2' });
    expect(r.problems).toEqual(['line 1: A has an unterminated quote; the rest of the line is taken as written']);
  });

  it('reports text after a closing quote', () => {
    const r = parseEnvFile('A="x"y\n');
    expect(r.vars.get('A')).toBe('x');
    expect(r.problems).toEqual(['line 1: A has text after its closing quote; ignored']);
  });

  it('never puts a value into a problem', () => {
    const secret = 'S3cr3t-Value-Q';
    const { problems } = parseEnvFile(`A=${secret}\nA=${secret}\n${secret}\nB="${secret}\nC='${secret}'${secret}\n`);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).not.toContain('S3cr3t');
  });

  it('never throws, whatever the input', () => {
    for (const text of ['', '\n', '=', '"', "A='", 'A="\\', '\r\n\r\n', 'export', '#', 'A=\\']) {
      expect(() => parseEnvFile(text)).not.toThrow();
    }
  });
});

describe('compose variable references', () => {
  it('finds every interpolation syntax', () => {
    const text = [
      'a: ${PLAIN}',
      'b: ${WITH_DEFAULT:-x}',
      'c: ${UNSET_DEFAULT-x}',
      'd: ${REQ?must be set}',
      'e: ${REQ_NONEMPTY:?must be set}',
      'f: $BARE and $$NOT_A_VAR and $${ALSO_NOT}',
      'g: ${ALT:+yes}',
    ].join('\n');
    expect(composeVariableRefs(text)).toEqual([
      { name: 'ALT', hasDefault: true, required: false },
      { name: 'BARE', hasDefault: false, required: false },
      { name: 'PLAIN', hasDefault: false, required: false },
      { name: 'REQ', hasDefault: false, required: true },
      { name: 'REQ_NONEMPTY', hasDefault: false, required: true },
      { name: 'UNSET_DEFAULT', hasDefault: true, required: false },
      { name: 'WITH_DEFAULT', hasDefault: true, required: false },
    ]);
  });

  it('merges the references of one name: a default counts only if every reference has one', () => {
    expect(composeVariableRefs('a: ${X:-1}\nb: ${X}\nc: ${Y:-1} ${Y-2}\n')).toEqual([
      { name: 'X', hasDefault: false, required: false },
      { name: 'Y', hasDefault: true, required: false },
    ]);
  });

  it('finds references nested in a default', () => {
    expect(composeVariableRefs('a: ${A:-${B}-x}\n').map((r) => r.name)).toEqual(['A', 'B']);
  });

  it('ignores comments but not "#" inside values', () => {
    const text = '# uses ${IN_COMMENT}\na: x # and $TRAILING\nb: "quoted # ${IN_QUOTES}"\nc: a#${GLUED}\n';
    expect(composeVariableRefs(text).map((r) => r.name)).toEqual(['GLUED', 'IN_QUOTES']);
  });

  it('ignores what compose rejects or treats literally', () => {
    expect(composeVariableRefs('a: ${} ${1X} ${UNCLOSED:-x\nb: $ 5 $1\n')).toEqual([]);
  });
});

describe('env coverage', () => {
  const compose = 'x: ${A} ${B:-d} ${C?set it} $D ${E}\n';

  it('sorts out referenced, defined, missing and unused variables', () => {
    expect(envCoverage(compose, 'E=1\nA=1\nZ=1\nCOMPOSE_PROJECT_NAME=p\n')).toEqual({
      referenced: ['A', 'B', 'C', 'D', 'E'],
      definedInTenantEnv: ['A', 'COMPOSE_PROJECT_NAME', 'E', 'Z'],
      missingInTenantEnv: ['C', 'D'],
      unusedInTenantEnv: ['Z'],
      problems: [],
    });
  });

  it('counts a variable defined as empty as defined', () => {
    expect(envCoverage(compose, 'A=\nC=\nD=\nE=\n').missingInTenantEnv).toEqual([]);
  });

  it('treats a missing .env as defining nothing', () => {
    expect(envCoverage(compose, undefined)).toEqual({
      referenced: ['A', 'B', 'C', 'D', 'E'],
      definedInTenantEnv: [],
      missingInTenantEnv: ['A', 'C', 'D', 'E'],
      unusedInTenantEnv: [],
      problems: [],
    });
  });

  it('passes on the problems of the tenant .env', () => {
    expect(envCoverage(compose, 'A=1\nA=2\n').problems).toEqual(['A is set more than once (lines 1, 2); the last one wins']);
  });
});
