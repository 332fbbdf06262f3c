import type { RateWindow } from "../durable/rate-limiter";
import type { Bindings } from "../env";

/** The only way the rest of the code talks to a RateLimiter: one per principal or throttled key. */
export const rateLimiter = (env: Bindings, key: string) => env.RATE_LIMITER.getByName(key);

const positive = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};

/** The per-principal windows: seed 004's 60 a minute, 1,000 an hour, 10,000 a day unless configured. */
export const requestWindows = (env: Bindings): RateWindow[] => [
  { seconds: 60, limit: positive(env.RATE_LIMIT_PER_MINUTE, 60) },
  { seconds: 3600, limit: positive(env.RATE_LIMIT_PER_HOUR, 1000) },
  { seconds: 86_400, limit: positive(env.RATE_LIMIT_PER_DAY, 10_000) },
];

export const failurePolicy = (env: Bindings) => ({
  max: positive(env.AUTH_MAX_FAILURES, 10),
  windowSeconds: positive(env.AUTH_FAILURE_WINDOW_SECONDS, 900),
});
