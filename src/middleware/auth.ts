import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { AppError } from "../lib/errors";
import { authenticate } from "../services/auth";
import { enforceRateLimit } from "./rate-limit";

export function bearerToken(header: string | undefined): string {
  if (!header) throw new AppError("unauthorized", "Missing Authorization header");
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new AppError("unauthorized", "Authorization header must be 'Bearer <token>'");
  return match[1];
}

/** Client routes: an API key or a user's access JWT. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  // Two routers' middleware can match one path (e.g. `/models/*`): authenticate once.
  if (c.var.principal) return next();
  const token = bearerToken(c.req.header("Authorization"));
  const principal = await authenticate(c.var.db, c.env, token);
  c.set("principal", principal);
  await enforceRateLimit(c, principal.userId);
  await next();
});

/**
 * `requireUser` for the routes that queue runs: the rate-limit call runs beside the route's reads
 * instead of before them. The service awaits `admission` before its first write, so a request over its
 * limit still writes nothing, and the answer is 429 whatever else the route found wrong.
 */
export const requireUserAdmittedBeforeWrites = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.principal) return next();
  const principal = await authenticate(c.var.db, c.env, bearerToken(c.req.header("Authorization")));
  c.set("principal", principal);
  const admission = enforceRateLimit(c, principal.userId);
  // Handled here and below, so a route that fails before awaiting it leaves no unhandled rejection.
  admission.catch(() => {});
  c.set("admission", admission);
  await next();
  await admission;
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.principal.role !== "admin") throw new AppError("forbidden", "Administrator role required");
  await next();
});

/**
 * Like `requireUser`, but also takes `?token=` for clients that cannot set headers (browser WebSocket
 * and EventSource). Only for the read-only live routes.
 */
export const requireUserOrQueryToken = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization");
  const query = c.req.query("token");
  const token = header || !query ? bearerToken(header) : query;
  const principal = await authenticate(c.var.db, c.env, token);
  c.set("principal", principal);
  await enforceRateLimit(c, principal.userId);
  await next();
});

/** What services need to act for the authenticated user, including the origin URLs are signed for. */
export const userContext = (c: Context<AppEnv>) => ({
  env: c.env,
  db: c.var.db,
  userId: c.var.principal.userId,
  origin: new URL(c.req.url).origin,
  /** Settles once the request is within its rate limits (at once unless the route defers the check). */
  admitted: c.var.admission ?? ADMITTED,
});

const ADMITTED = Promise.resolve();
