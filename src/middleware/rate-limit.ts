import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { AppError } from "../lib/errors";
import { failurePolicy, rateLimiter, requestWindows } from "../services/rate-limiter-client";

const windowName: Record<number, string> = { 60: "minute", 3600: "hour", 86400: "day" };

/**
 * Counts the request against its principal's windows (one Durable Object call) and sets the
 * `X-RateLimit-*` headers; past a limit, 429 with `Retry-After`. Called once the principal is known.
 */
export async function enforceRateLimit(c: Context<AppEnv>, userId: string) {
  if (c.var.rateCounted) return;
  c.set("rateCounted", true);
  const verdict = await rateLimiter(c.env, `user:${userId}`).hit(requestWindows(c.env));
  c.header("X-RateLimit-Limit", String(verdict.limit));
  c.header("X-RateLimit-Remaining", String(verdict.remaining));
  c.header("X-RateLimit-Reset", String(verdict.resetAt));
  if (verdict.allowed) return;
  // The reset is whole seconds rounded up, so the wait never exceeds the window itself.
  const wait = Math.ceil((verdict.resetAt * 1000 - Date.now()) / 1000);
  c.header("Retry-After", String(Math.min(verdict.windowSeconds, Math.max(1, wait))));
  const per = windowName[verdict.windowSeconds] ?? `${verdict.windowSeconds} s`;
  throw new AppError(
    "rate_limit_exceeded",
    `Too many requests. Rate limit: ${verdict.limit} requests per ${per}.`,
  );
}

/** The keys a login or registration attempt is throttled by: the account named, and the client address. */
async function throttleKeys(c: Context<AppEnv>): Promise<string[]> {
  const keys: string[] = [];
  const body = (await c.req.json().catch(() => null)) as { email?: unknown; username?: unknown } | null;
  const account = body?.email ?? body?.username;
  if (typeof account === "string" && account) keys.push(`auth:account:${account.trim().toLowerCase()}`);
  const address = c.req.header("CF-Connecting-IP");
  if (address) keys.push(`auth:address:${address}`);
  return keys;
}

/**
 * Login and registration: after `AUTH_MAX_FAILURES` failed attempts (any 4xx) for one account or
 * from one address within `AUTH_FAILURE_WINDOW_SECONDS` of the first, 429 until that window passes.
 */
export const authThrottle = createMiddleware<AppEnv>(async (c, next) => {
  const policy = failurePolicy(c.env);
  const limiters = (await throttleKeys(c)).map((key) => rateLimiter(c.env, key));
  const locked = await Promise.all(limiters.map((l) => l.lockedFor(policy.max, policy.windowSeconds)));
  const wait = Math.max(0, ...locked);
  if (wait > 0) {
    c.header("Retry-After", String(wait));
    throw new AppError("rate_limit_exceeded", `Too many failed attempts; try again in ${wait} s`);
  }
  await next();
  if (c.res.status >= 400 && c.res.status < 500) {
    await Promise.all(limiters.map((l) => l.recordFailure(policy.windowSeconds)));
  }
});
