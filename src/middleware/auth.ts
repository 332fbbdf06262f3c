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
});
