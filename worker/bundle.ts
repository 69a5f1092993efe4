/**
 * The workflow bundle. `npm run build` prebuilds it so workers start in a
 * second; when the prebuilt file is missing or older than the workflow
 * sources, the worker bundles in memory instead of running stale code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from './data-converter.js';

// The sources it bundles sit beside worker/ (as the failure converter sits in it).
const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export const WORKFLOWS_PATH = path.join(REPO_ROOT, 'workflows', 'index.ts');
export const BUNDLE_FILE = path.join(REPO_ROOT, 'dist', 'workflow-bundle.js');

function newestSource(): number {
  let newest = 0;
  for (const dir of ['workflows', 'core']) {
    for (const f of readdirSync(path.join(REPO_ROOT, dir))) {
      if (f.endsWith('.ts') && !f.endsWith('.test.ts')) newest = Math.max(newest, statSync(path.join(REPO_ROOT, dir, f)).mtimeMs);
    }
  }
  // The failure converter is bundled into workflow code too.
  return Math.max(newest, statSync(FAILURE_CONVERTER_PATH).mtimeMs);
}

export function prebuiltBundleIsFresh(): boolean {
  return existsSync(BUNDLE_FILE) && statSync(BUNDLE_FILE).mtimeMs >= newestSource();
}

export async function buildBundle(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietLogger });
}

export async function writeBundle(): Promise<string> {
  const { code } = await buildBundle();
  await mkdir(path.dirname(BUNDLE_FILE), { recursive: true });
  await writeFile(BUNDLE_FILE, code);
  return BUNDLE_FILE;
}

const noop = () => {};
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
