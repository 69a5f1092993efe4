/**
 * Workflows only orchestrate and must stay deterministic: they may import
 * Temporal's workflow package, other workflow modules and dependency-free
 * modules of core/, and anything else only as a type. Checked on every test run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm;
const problems: string[] = [];

function imports(file: string) {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(IMPORT)].map((m) => ({ typeOnly: Boolean(m[2]), spec: m[3]! }));
}

const workflowsDir = path.join(root, 'workflows');
const checked = new Set<string>();
function check(file: string, allowed: (spec: string, from: string) => boolean) {
  if (checked.has(file)) return;
  checked.add(file);
  for (const { typeOnly, spec } of imports(file)) {
    if (typeOnly) continue;
    const rel = path.relative(root, file);
    if (!allowed(spec, file)) {
      problems.push(`${rel}: imports ${spec} (workflow code may import only @temporalio/workflow, @temporalio/common, workflows/ and core/ at run time)`);
      continue;
    }
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      // core modules reached from a workflow must be dependency-free themselves.
      check(target, target.startsWith(workflowsDir + path.sep) ? workflowRule : (s) => s.startsWith('.'));
    }
  }
}

function workflowRule(spec: string, from: string) {
  if (spec === '@temporalio/workflow' || spec === '@temporalio/common') return true;
  if (!spec.startsWith('.')) return false;
  const target = path.resolve(path.dirname(from), spec);
  return [workflowsDir, path.join(root, 'core')].some((d) => target.startsWith(d + path.sep));
}

for (const f of readdirSync(workflowsDir)) {
  if (f.endsWith('.ts') && !f.endsWith('.test.ts')) check(path.join(workflowsDir, f), workflowRule);
}

if (problems.length > 0) {
  console.error(`workflow lint: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(`workflow lint: ${checked.size} modules checked, all deterministic-safe`);
