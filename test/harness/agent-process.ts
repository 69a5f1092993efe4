/** A real agent process (`npx tsx agent/main.ts`) in its own process group, with its output collected. */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../platform/temporal-server.js';
import { waitFor } from '../support.js';

export interface AgentProcess {
  child: ChildProcess;
  args: string[];
  lines: string[];
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

export function spawnAgentProcess(args: string[]): AgentProcess {
  const child = spawn('npx', ['tsx', 'agent/main.ts', ...args], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const collect = (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return {
    child,
    args,
    lines,
    waitForLine: (re, timeoutMs = 60_000) =>
      waitFor(`agent output matching ${re}`, async () => lines.map((l) => re.exec(l)).find(Boolean) ?? undefined, timeoutMs, 50).catch((err: Error) => {
        throw new Error(`${err.message}\nagent output:\n${lines.join('\n')}`);
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}
