import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";

export type Loaded<T> = { data: T | null; error: Error | null; loading: boolean; reload: () => void };

/** GETs an API path; `everyMs` polls it (without flicker) while the page is open. */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const data = await api<T>(path, { signal: controller.signal });
        setState({ data, error: null, loading: false });
      } catch (error) {
        if (controller.signal.aborted) return;
        setState((s) => ({ data: s.data, error: error as Error, loading: false }));
      }
      if (everyMs && !controller.signal.aborted) timer = setTimeout(load, everyMs);
    };
    setState((s) => ({ ...s, loading: true }));
    load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, everyMs, tick]);
  return { ...state, reload };
}

/** Re-renders every `ms` (relative times, elapsed clocks). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/** Focuses an element once it mounts (dialogs, first field of a form). */
export function useAutofocus<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}
