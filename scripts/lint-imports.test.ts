import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
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

  it('keeps the tenant daemon to core/ and tenant/: an agent module importing a transport or the API is named', async () => {
    const root = await tree({
      'agent/a.ts': "import { x } from '../core/c.js';\nimport { y } from '../tenant/t.js';\nimport { remote } from '../transports/remote.js';\n",
      'agent/b.ts': "export { app } from '../api/app.js';\n",
    });
    expect(importProblems(root).problems).toEqual([
      expect.stringMatching(/^agent\/a\.ts: imports \.\.\/transports\/remote\.js \(agent\/ may import only agent\/, core\/, tenant\/ at run time\)$/),
      expect.stringMatching(/^agent\/b\.ts: imports \.\.\/api\/app\.js /),
    ]);
  });

  it('lets only the composition root wire transports and the worker, and only the entry points import the composition root', async () => {
    const root = await tree({
      'platform/runtime.ts': "import { createDriverFactory } from '../transports/drivers.js';\nimport { createWorker } from '../worker/worker.js';\n",
      'platform/ca.ts': "import { createDriverFactory } from '../transports/drivers.js';\n",
      'api/routes/x.ts': "import { createDriverFactory } from '../../transports/drivers.js';\nimport { createRuntime } from '../../platform/runtime.js';\n",
      'api/control-plane.ts': "import { createRuntime } from '../platform/runtime.js';\n",
      'worker/main.ts': "import { createRuntime } from '../platform/runtime.js';\n",
      'worker/bundle.ts': "import { REPO_ROOT } from '../platform/temporal-server.js';\n",
    });
    expect(importProblems(root).problems.sort()).toEqual([
      expect.stringMatching(/^api\/routes\/x\.ts: imports \.\.\/\.\.\/platform\/runtime\.js /),
      expect.stringMatching(/^api\/routes\/x\.ts: imports \.\.\/\.\.\/transports\/drivers\.js /),
      expect.stringMatching(/^platform\/ca\.ts: imports \.\.\/transports\/drivers\.js \(platform\/ may import only platform\/, core\/, workflows\/, prisma\/ at run time\)$/),
      expect.stringMatching(/^worker\/bundle\.ts: imports \.\.\/platform\/temporal-server\.js /),
    ]);
  });

  it('lets the UI import the API contract (api/schemas.ts, api/responses.ts) and nothing else of the server', async () => {
    const root = await tree({
      'ui/src/api.ts': "import { schemas } from '../../api/schemas.js';\nimport { answers } from '../../api/responses.js';\nimport './styles.css';\n",
      'ui/src/pages/P.tsx': "import { roles } from '../../../api/roles.js';\nimport '../../../core/compose.js';\n",
    });
    expect(importProblems(root).problems).toEqual([
      'ui/src/pages/P.tsx: imports ../../../api/roles.js (ui/ may import only ui/, api/schemas.ts, api/responses.ts at run time)',
      'ui/src/pages/P.tsx: imports ../../../core/compose.js (ui/ may import only ui/, api/schemas.ts, api/responses.ts at run time)',
    ]);
  });

  it('fails `npm run lint` on a violating import: the script exits 1 and names it', async () => {
    const root = await tree({ 'tenant/t.ts': "import { openDatabase } from '../prisma/db.js';\n" });
    const script = path.join(import.meta.dirname, 'lint-imports.ts');
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, root]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('tenant/t.ts: imports ../prisma/db.js (tenant/ may import only tenant/, core/ at run time)');
    const clean = await tree({ 'tenant/t.ts': "import { x } from '../core/c.js';\n" });
    const ok = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, clean]);
    expect(ok.stdout).toContain('import lint: 1 modules checked');
  });

  it('finds no problem in this repository', () => {
    expect(importProblems(path.resolve(import.meta.dirname, '..')).problems).toEqual([]);
  });
});
