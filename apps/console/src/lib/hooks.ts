import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replace the data without a request (after a write that answered the new state). */
  set: (data: T) => void;
}

/**
 * Loads `load()` when `deps` change, and again every `pollMs` while `poll` says so. A slow answer
 * that arrives after a newer request started is dropped.
 */
export function useResource<T>(load: () => Promise<T>, deps: unknown[], opts: { pollMs?: number; poll?: (data: T | undefined) => boolean } = {}): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(opts.poll);
  pollRef.current = opts.poll;
  const stateRef = useRef<T | undefined>(undefined);
  stateRef.current = state.data;

  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loadRef.current();
      if (mine === generation.current) setState({ data, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, []);

  // The caller's deps decide when to reload; run is stable.
  useEffect(() => {
    setState({ loading: true });
    void run();
  }, deps);

  useEffect(() => {
    if (!opts.pollMs) return;
    const timer = window.setInterval(() => {
      if (!pollRef.current || pollRef.current(stateRef.current)) void run();
    }, opts.pollMs);
    return () => window.clearInterval(timer);
    // Restart the timer when the poll interval or the caller's deps change; run is stable.
  }, [opts.pollMs, ...deps]);

  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    reload: () => void run(),
    set: (data: T) => setState({ data, loading: false }),
  };
}

/** Calls `handler` for key presses outside text fields. */
export function useKeys(handler: (e: KeyboardEvent) => void, deps: unknown[]): void {
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      handler(e);
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
    // The caller's deps decide when to re-subscribe, as with useEffect.
  }, deps);
}

/** Re-renders every `ms` (clocks, rates of running runs). */
export function useNow(ms: number, active = true): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms, active]);
  return now;
}

/** A form's request: `busy` while it runs, and its error shown until the next try. */
export function useAction(): { busy: boolean; error: unknown; run: (act: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (act: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await act();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
