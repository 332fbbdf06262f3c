import { useEffect, useRef } from "preact/hooks";
import { bearer, getSession } from "./session";

/** The fleet socket's messages that say an instance changed (enabled, alive, busy). */
const INSTANCE_EVENTS = new Set(["global_status", "instance_status"]);

/**
 * Calls `onChange` whenever the tenant's fleet socket (`/api/ws`) reports an instance change, so a page
 * can refresh at once instead of waiting for its next poll. A dropped socket reconnects with backoff.
 */
export function useFleetChanges(onChange: () => void): void {
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    let socket: WebSocket | null = null;
    let closed = false;
    let retryMs = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      const session = getSession();
      if (!session || closed) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const token = encodeURIComponent(bearer(session));
      socket = new WebSocket(`${proto}://${location.host}/api/ws?token=${token}`);
      socket.onopen = () => {
        retryMs = 500;
      };
      socket.onmessage = (e) => {
        const type = (JSON.parse(String(e.data)) as { type?: string }).type;
        if (type && INSTANCE_EVENTS.has(type)) latest.current();
      };
      socket.onclose = () => {
        if (closed) return;
        timer = setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 10_000);
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, []);
}
