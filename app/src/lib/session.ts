/** Who is signed in: a user's token pair (refreshed on expiry) or an API key. Kept in localStorage. */
export type Session =
  | { kind: "user"; access: string; refresh: string; label: string }
  | { kind: "key"; key: string; label: string };

const STORAGE_KEY = "comfy-edge.session";
const listeners = new Set<(s: Session | null) => void>();

let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null) {
  current = next;
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener(next);
}

export function onSessionChange(listener: (s: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The credential for requests and for live sockets (`?token=`). */
export function bearer(session: Session): string {
  return session.kind === "user" ? session.access : session.key;
}
