/**
 * The folders' import rules (the README's folder table): what each top-level
 * folder's code may import from the others at run time. Type-only imports
 * are free (they vanish at build); tests may reach anywhere. Run by
 * `npm run lint`, beside the workflow lint.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Folder -> the other folders its (non-test) code may import at run time. */
export const RULES: Record<string, readonly string[]> = {
  core: [],
  tenant: ['core'],
  agent: ['core', 'tenant'],
  transports: ['core', 'tenant'],
  workflows: ['core'],
  activities: ['core'],
  prisma: ['core'],
  templates: ['core'],
  worker: ['core', 'activities', 'workflows', 'prisma', 'templates', 'transports', 'platform'],
  platform: ['core', 'prisma', 'transports', 'worker', 'workflows'],
  api: ['core', 'prisma', 'workflows', 'platform', 'transports', 'worker'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'generated') return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name) ? [p] : [];
  });
}

/** Every run-time import that breaks RULES under `root`, and how many modules were read. */
export function importProblems(root: string): { problems: string[]; checked: number } {
  const problems: string[] = [];
  let checked = 0;
  for (const [folder, allowed] of Object.entries(RULES)) {
    const dir = path.join(root, folder);
    if (!existsSync(dir)) continue;
    for (const file of sources(dir)) {
      checked++;
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const typeOnly = Boolean(m[2]);
        const spec = m[3] ?? m[4]!;
        if (typeOnly || !spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep)[0]!;
        if (target === folder || allowed.includes(target)) continue;
        problems.push(`${path.relative(root, file)}: imports ${spec} (${folder}/ may import only ${[folder, ...allowed].map((f) => `${f}/`).join(', ')} at run time)`);
      }
    }
  }
  return { problems, checked };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { problems, checked } = importProblems(path.resolve(import.meta.dirname, '..'));
  if (problems.length > 0) {
    console.error(`import lint: ${problems.length} problem(s)\n${problems.join('\n')}`);
    process.exit(1);
  }
  console.log(`import lint: ${checked} modules checked, every import within its folder's rules`);
}
