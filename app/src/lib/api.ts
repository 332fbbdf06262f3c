import { bearer, getSession, type Session, setSession } from "./session";

/** The API's uniform error envelope, as an exception. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

type Init = { method?: string; body?: unknown; signal?: AbortSignal };

async function send(path: string, session: Session | null, init: Init): Promise<Response> {
  const headers: Record<string, string> = {};
  if (session) headers.Authorization = `Bearer ${bearer(session)}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`/api${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
}

/** Set when the API turned the session away, so the sign-in page can say why it is back. */
export const EXPIRED_FLAG = "comfy-edge.expired";

let refreshing: Promise<boolean> | null = null;

/** Rotates the refresh token once, however many requests saw the 401 at the same time. */
function refreshSession(session: Extract<Session, { kind: "user" }>): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await send("/auth/refresh", null, {
        method: "POST",
        body: { refresh_token: session.refresh },
      });
      if (!res.ok) return false;
      const pair = (await res.json()) as { access_token: string; refresh_token: string };
      setSession({ ...session, access: pair.access_token, refresh: pair.refresh_token });
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function toError(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as {
    error?: string;
    message?: string;
    details?: unknown;
  } | null;
  return new ApiError(res.status, body?.error ?? "error", body?.message ?? res.statusText, body?.details);
}

/** Calls the public API; an expired user session is refreshed once, otherwise the user is signed out. */
export async function api<T>(path: string, init: Init = {}): Promise<T> {
  const session = getSession();
  let res = await send(path, session, init);
  if (res.status === 401 && session?.kind === "user" && (await refreshSession(session))) {
    res = await send(path, getSession(), init);
  }
  if (res.status === 401 && session) {
    sessionStorage.setItem(EXPIRED_FLAG, "1");
    setSession(null);
  }
  if (!res.ok) throw await toError(res);
  return (await res.json()) as T;
}

/** Signs in with a username (or email) and password. */
export async function signInWithPassword(login: string, password: string) {
  const field = login.includes("@") ? "email" : "username";
  const res = await send("/auth/login", null, { method: "POST", body: { [field]: login, password } });
  if (!res.ok) throw await toError(res);
  const pair = (await res.json()) as { access_token: string; refresh_token: string };
  setSession({ kind: "user", access: pair.access_token, refresh: pair.refresh_token, label: login });
}

/** Signs in with an API key, after checking that it works. */
export async function signInWithKey(key: string) {
  const res = await send("/auth/me", { kind: "key", key, label: "" }, {});
  if (!res.ok) throw await toError(res);
  const me = (await res.json()) as { username: string };
  setSession({ kind: "key", key, label: me.username });
}

export async function signOut() {
  const session = getSession();
  if (session?.kind === "user") await send("/auth/logout", session, { method: "POST" }).catch(() => null);
  setSession(null);
}

/** Uploads a file through the presigned flow (create → PUT straight to storage → confirm). */
export async function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<string> {
  const created = await api<{
    upload_url: string;
    upload_headers: Record<string, string>;
    file_id: string;
    confirm_url: string;
  }>("/file/upload", {
    method: "POST",
    body: { type: file.type || "application/octet-stream", file_size: file.size, filename: file.name },
  });
  await putWithProgress(created.upload_url, created.upload_headers, file, onProgress);
  await api(`/files/${created.file_id}/confirm`, { method: "POST" });
  return created.file_id;
}

/** fetch() cannot report upload progress; XMLHttpRequest can. */
function putWithProgress(
  url: string,
  headers: Record<string, string>,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () =>
      xhr.status < 300
        ? resolve()
        : reject(new ApiError(xhr.status, "upload_failed", `Upload failed (${xhr.status})`));
    xhr.onerror = () => reject(new ApiError(0, "upload_failed", "Upload failed: network error"));
    xhr.send(file);
  });
}
