import type { Db } from "../db/client";
import type { DeliveryStatus } from "../db/schema";
import type { Bindings } from "../env";
import { nowIso } from "../lib/ids";
import { type DeliveryRow, findDelivery, recordAttempt } from "../stores/webhooks";
import type { DeliveryMessage } from "./enqueue";
import { signingSecrets } from "./secrets";
import { signatureHeaders } from "./signing";

const EXCERPT_CHARS = 1024;
const MAX_DELAY_SECONDS = 12 * 3600; // the longest delay a Queues retry takes

type Settings = { maxAttempts: number; baseDelaySeconds: number; timeoutMs: number };

export function deliverySettings(env: Bindings): Settings {
  const num = (value: string | undefined, fallback: number) => {
    const n = Number(value);
    return value !== undefined && value !== "" && Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  return {
    maxAttempts: Math.max(1, num(env.WEBHOOK_MAX_ATTEMPTS, 9)),
    baseDelaySeconds: num(env.WEBHOOK_RETRY_BASE_SECONDS, 5),
    timeoutMs: num(env.WEBHOOK_TIMEOUT_SECONDS, 10) * 1000,
  };
}

/** Exponential backoff (x5 per attempt, capped at 12 h) with ±20 % jitter; ~29 h over 9 attempts. */
export function retryDelaySeconds(settings: Settings, attempt: number): number {
  const base = Math.min(settings.baseDelaySeconds * 5 ** (attempt - 1), MAX_DELAY_SECONDS);
  return Math.round(Math.min(base * (0.8 + Math.random() * 0.4), MAX_DELAY_SECONDS));
}

/** 5xx, 408, 429 and transport failures are worth another try; any other 4xx is the receiver's answer. */
const retryable = (status: number | null) =>
  status === null || status >= 500 || status === 408 || status === 429;

type Outcome = { statusCode: number | null; excerpt: string | null; error: string | null; latencyMs: number };

async function post(
  delivery: DeliveryRow,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Outcome> {
  const started = Date.now();
  try {
    const res = await fetch(delivery.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": "comfy-edge-webhooks/1", ...headers },
      body: delivery.payload,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const excerpt = (await res.text().catch(() => "")).slice(0, EXCERPT_CHARS);
    return { statusCode: res.status, excerpt, error: null, latencyMs: Date.now() - started };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    const error = timedOut ? `timed out after ${timeoutMs} ms` : `connection failed: ${String(err)}`;
    return {
      statusCode: null,
      excerpt: null,
      error: error.slice(0, EXCERPT_CHARS),
      latencyMs: Date.now() - started,
    };
  }
}

/**
 * One attempt of one delivery. `roundAttempt` counts attempts since the delivery was (re)queued, so a
 * redelivery gets a fresh retry budget. Returns the delay before the next attempt, or null when done.
 */
export async function attemptDelivery(
  env: Bindings,
  db: Db,
  deliveryId: string,
  roundAttempt: number,
): Promise<number | null> {
  const delivery = await findDelivery(db, deliveryId);
  if (!delivery || delivery.status === "delivered") return null;
  const settings = deliverySettings(env);
  const secrets = await signingSecrets(db, delivery.userId);
  const headers = await signatureHeaders(secrets, {
    id: delivery.id,
    timestampSeconds: Math.floor(Date.now() / 1000),
    body: delivery.payload,
  });
  const outcome = await post(delivery, headers, settings.timeoutMs);
  const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  const again = !ok && retryable(outcome.statusCode) && roundAttempt < settings.maxAttempts;
  const delay = again ? retryDelaySeconds(settings, roundAttempt) : null;
  const nextRetryAt = delay === null ? null : new Date(Date.now() + delay * 1000).toISOString();
  const status: DeliveryStatus = ok
    ? "delivered"
    : again
      ? "retrying"
      : retryable(outcome.statusCode)
        ? "dead"
        : "failed";
  await recordAttempt(
    db,
    {
      deliveryId,
      attempt: delivery.attempts + 1,
      statusCode: outcome.statusCode,
      latencyMs: outcome.latencyMs,
      responseExcerpt: outcome.excerpt,
      error: outcome.error,
      nextRetryAt,
      at: nowIso(),
    },
    { status, nextRetryAt },
  );
  return delay;
}

/** The queue consumer: every message is one attempt; a retry goes back on the queue with its delay. */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: Bindings, db: Db) {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const delay = await attemptDelivery(env, db, message.body.delivery_id, message.attempts);
        if (delay === null) message.ack();
        else message.retry({ delaySeconds: delay });
      } catch (err) {
        // Our own failure (D1 unavailable…): try again soon; the delivery row is unchanged.
        console.error(
          JSON.stringify({ webhook_attempt_error: message.body.delivery_id, error: String(err) }),
        );
        message.retry({ delaySeconds: 30 });
      }
    }),
  );
}
