import { app } from "./app";
import { createDb } from "./db/client";
import type { Bindings } from "./env";
import { withCanonicalPath } from "./lib/dialect-paths";
import { nowIso } from "./lib/ids";
import { sweepExpiredUploads } from "./services/files";
import { failUnqueuedRuns } from "./services/run-reconciler";
import { deleteExpiredIdempotencyKeys } from "./stores/idempotency";
import { consumeDeliveries } from "./webhooks/deliver";
import type { DeliveryMessage } from "./webhooks/enqueue";

export { Dispatcher } from "./durable/dispatcher";
export { FleetRoom } from "./durable/fleet-room";
export { RateLimiter } from "./durable/rate-limiter";
export { RunRoom } from "./durable/run-room";

export default {
  fetch: (request, env, ctx) => app.fetch(withCanonicalPath(request), env, ctx),
  /**
   * Cron sweep: uploads that never arrived expire and stop counting against the quota; old idempotency
   * keys go; runs recorded but never queued end `failed`.
   */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(
      sweepExpiredUploads(env, createDb(env.DB)).then(
        () => undefined,
        (error) => console.error(JSON.stringify({ event: "upload_sweep_failed", error: String(error) })),
      ),
    );
    ctx.waitUntil(
      deleteExpiredIdempotencyKeys(createDb(env.DB), nowIso()).catch((error) =>
        console.error(JSON.stringify({ event: "idempotency_sweep_failed", error: String(error) })),
      ),
    );
    ctx.waitUntil(
      failUnqueuedRuns(env, createDb(env.DB)).catch((error) =>
        console.error(JSON.stringify({ event: "unqueued_run_sweep_failed", error: String(error) })),
      ),
    );
  },
  /** Webhook delivery: one attempt per message, retried with backoff through the queue. */
  async queue(batch, env) {
    await consumeDeliveries(batch, env, createDb(env.DB));
  },
} satisfies ExportedHandler<Bindings, DeliveryMessage>;
