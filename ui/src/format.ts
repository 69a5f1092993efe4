export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

export function between(start: string, end: string | null | undefined, now: number): string {
  const t0 = Date.parse(start);
  const t1 = end ? Date.parse(end) : now;
  return duration(t1 - t0);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return when(iso);
}

export const MODE_LABEL: Record<string, string> = {
  full: 'Upgrade Now (full)',
  'image-only': 'Quick Upgrade',
  release: 'Upgrade to Release',
};

export const ROLLOUT_STATUS_LABEL: Record<string, string> = {
  running: 'running',
  baking: 'baking',
  'awaiting-approval': 'awaiting approval',
  paused: 'paused',
  succeeded: 'succeeded',
  aborted: 'aborted',
  failed: 'failed',
};

/** A Temporal execution status (RUNNING, TIMED_OUT, …) as words. */
export function executionLabel(execution: string): string {
  return execution.toLowerCase().replace(/_/g, ' ');
}

/** "2025-01-02T03:04:05.678Z text" → the local time and the text. */
export function splitLogLine(line: string): { at?: string; text: string } {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/s.exec(line);
  if (!m) return { text: line };
  const d = new Date(m[1]!);
  return { at: Number.isNaN(d.getTime()) ? m[1] : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }), text: m[2]! };
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
