/**
 * The folders' import rules (the README's folder table): what each top-level
 * folder's code may import from the others at run time. Type-only imports
 * are free (they vanish at build); tests may reach anywhere. Run by
 * `npm run lint`, beside the workflow lint; `tsx scripts/lint-imports.ts
 * <root>` checks another tree.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Folder -> the other folders, or single files of them, its (non-test) code may import at run time. */
export const RULES: Record<string, readonly string[]> = {
  core: [],
  tenant: ['core'],
  agent: ['core', 'tenant'],
  transports: ['core', 'tenant'],
  workflows: ['core'],
  activities: ['core'],
  prisma: ['core'],
  templates: ['core'],
  // platform/metrics.ts: the one metrics registry every process exports (API and worker alike).
  worker: ['core', 'activities', 'workflows', 'prisma', 'templates', 'platform/metrics.ts'],
  // The CA and the notifier keep their state in the database, through prisma/'s repositories.
  platform: ['core', 'workflows', 'prisma'],
  api: ['core', 'prisma', 'workflows', 'worker', 'platform/metrics.ts'],
  // The API's contract, nothing else of the server.
  ui: ['api/schemas.ts', 'api/responses.ts'],
};

/**
 * Files that may import more than their folder: the composition root, the
 * only module that wires transports and the worker, and the programs that
 * start it. Nothing else imports platform/ or transports/ at run time.
 */
export const FILE_RULES: Record<string, readonly string[]> = {
  'platform/runtime.ts': ['transports', 'worker'],
  'api/control-plane.ts': ['platform'], // npm start
  'worker/main.ts': ['platform'], // npm run worker
  'api/auth-cli.ts': ['platform'], // npm run operator (the data directory)
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'generated') return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name) ? [p] : [];
  });
}

const withoutExtension = (p: string) => p.replace(/\.(js|jsx|ts|tsx)$/, '');

/** Every run-time import that breaks RULES and FILE_RULES under `root`, and how many modules were read. */
export function importProblems(root: string): { problems: string[]; checked: number } {
  const problems: string[] = [];
  let checked = 0;
  for (const [folder, folderAllowed] of Object.entries(RULES)) {
    const dir = path.join(root, folder);
    if (!existsSync(dir)) continue;
    for (const file of sources(dir)) {
      checked++;
      const rel = path.relative(root, file).split(path.sep).join('/');
      const allowed = [...folderAllowed, ...(FILE_RULES[rel] ?? [])];
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const typeOnly = Boolean(m[2]);
        const spec = m[3] ?? m[4] ?? m[5]!;
        if (typeOnly || !spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
        const top = target.split('/')[0]!;
        if (top === folder || allowed.some((a) => a === top || withoutExtension(a) === withoutExtension(target))) continue;
        problems.push(`${rel}: imports ${spec} (${folder}/ may import only ${[folder, ...folderAllowed].map((f) => (f.includes('.') ? f : `${f}/`)).join(', ')} at run time${FILE_RULES[rel] ? `, and ${rel} also ${FILE_RULES[rel].map((f) => `${f}/`).join(', ')}` : ''})`);
      }
    }
  }
  return { problems, checked };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { problems, checked } = importProblems(path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..')));
  if (problems.length > 0) {
    console.error(`import lint: ${problems.length} problem(s)\n${problems.join('\n')}`);
    process.exit(1);
  }
  console.log(`import lint: ${checked} modules checked, every import within its folder's rules`);
}
