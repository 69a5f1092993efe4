import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads with `fn` and, with `everyMs`, again on that interval while the tab is
 * visible. A failed refresh keeps the last data and reports the error beside it.
 */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], everyMs?: number | false): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const gen = generation.current;
    try {
      const v = await fnRef.current();
      if (gen !== generation.current) return;
      setData(v);
      setError(undefined);
    } catch (err) {
      if (gen !== generation.current) return;
      setError(messageOf(err));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    generation.current++;
    setLoading(true);
    setData(undefined);
    setError(undefined);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    if (!everyMs) return;
    let timer: ReturnType<typeof setTimeout>;
    let stopped = false;
    const tick = async () => {
      if (!document.hidden) await reload();
      if (!stopped) timer = setTimeout(tick, everyMs);
    };
    timer = setTimeout(tick, everyMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [everyMs, ...deps]);

  return { data, error, loading, reload };
}

/** Re-renders every `ms` while `on` (for running durations). */
export function useTick(on: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [on, ms]);
  return now;
}

/**
 * A form's submission: `busy` while `submit`'s work runs; what the work throws
 * is kept as `error` for the form to show beside its fields, cleared when it
 * is submitted again.
 */
export function useSubmit(): { busy: boolean; error: unknown; submit: (work: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = useCallback(async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, submit };
}
