import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importProblems } from './lint-imports.js';

describe('the import lint', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  async function tree(files: Record<string, string>) {
    const root = await mkdtemp(path.join(os.tmpdir(), 'drydock-lint-imports-'));
    dirs.push(root);
    for (const [p, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await writeFile(path.join(root, p), text);
    }
    return root;
  }

  it('names an API module that imports activities/ at run time, and the rule it breaks', async () => {
    const root = await tree({ 'api/x.ts': "import { createActivities } from '../activities/index.js';\n", 'activities/index.ts': 'export {};\n' });
    expect(importProblems(root).problems).toEqual([expect.stringMatching(/^api\/x\.ts: imports \.\.\/activities\/index\.js \(api\/ may import only api\/, core\//)]);
  });

  it('lets type-only imports, tests and package imports through', async () => {
    const root = await tree({
      'agent/a.ts': "import type { Activities } from '../activities/index.js';\nimport { z } from 'zod';\nimport { x } from '../tenant/t.js';\n",
      'agent/a.test.ts': "import { startControlPlane } from '../api/control-plane.js';\n",
    });
    expect(importProblems(root)).toEqual({ problems: [], checked: 1 });
  });

  it('finds no problem in this repository', () => {
    expect(importProblems(path.resolve(import.meta.dirname, '..')).problems).toEqual([]);
  });
});
