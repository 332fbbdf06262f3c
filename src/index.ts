import { app } from "./app";
import { createDb } from "./db/client";
import type { Bindings } from "./env";
import { sweepExpiredUploads } from "./services/files";

export { Dispatcher } from "./durable/dispatcher";
export { RunRoom } from "./durable/run-room";

export default {
  fetch: app.fetch,
  /** Cron sweep: uploads that never arrived expire and stop counting against the quota. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(
      sweepExpiredUploads(env, createDb(env.DB)).then(
        () => undefined,
        (error) => console.error(JSON.stringify({ event: "upload_sweep_failed", error: String(error) })),
      ),
    );
  },
} satisfies ExportedHandler<Bindings>;
