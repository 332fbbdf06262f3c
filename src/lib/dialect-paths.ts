/**
 * One place decides which route a path means across the API dialects (see README, "API dialects").
 * - Seed 004's base URL is the host root: `/auth/…`, `/workflows/…`, `/files/…`, `/models/…`,
 *   `/health/…`, `/metrics/…` are served as under `/api`; seed 003's `/ws` is `/api/ws`.
 * - A trailing slash never matters, except on the list of workflows, where two dialects meet:
 *   `/api/workflows` lists saved workflows (ComfyDeploy) and `/api/workflows/` lists executions
 *   (seed 004). A query decides over the slash: `status` is an execution filter and `search` a saved
 *   workflow one. At the host root, `/workflows` is seed 004's alone: executions.
 */
const ROOT_PREFIXES = ["/auth", "/workflows", "/files", "/models", "/health", "/metrics", "/ws"];

const EXECUTIONS = "/api/workflows/";
const SAVED_WORKFLOWS = "/api/workflows";

function underApi(path: string): { path: string; fromRoot: boolean } {
  if (path === "/api" || path.startsWith("/api/")) return { path, fromRoot: false };
  const root = ROOT_PREFIXES.some((p) => path === p || path === `${p}/` || path.startsWith(`${p}/`));
  return root ? { path: `/api${path}`, fromRoot: true } : { path, fromRoot: false };
}

/** The path the router serves for a request path and query; null when it is already canonical. */
export function canonicalPath(pathname: string, query: URLSearchParams): string | null {
  const { path, fromRoot } = underApi(pathname);
  let canonical = path;
  if (path === SAVED_WORKFLOWS || path === EXECUTIONS) {
    if (query.has("status")) canonical = EXECUTIONS;
    else if (query.has("search")) canonical = SAVED_WORKFLOWS;
    else if (fromRoot) canonical = EXECUTIONS;
  } else if (path.length > 1 && path.endsWith("/")) {
    canonical = path.replace(/\/+$/, "");
  }
  return canonical === pathname ? null : canonical;
}

/** The request with its path made canonical (method, headers and body kept). */
export function withCanonicalPath(request: Request): Request {
  const url = new URL(request.url);
  const path = canonicalPath(url.pathname, url.searchParams);
  if (path === null) return request;
  url.pathname = path;
  return new Request(url, request);
}
