import { app } from "./app";
import { createDb } from "./db/client";
import type { Bindings } from "./env";
import { withCanonicalPath } from "./lib/dialect-paths";
import { sweepExpiredUploads } from "./services/files";

export { Dispatcher } from "./durable/dispatcher";
export { FleetRoom } from "./durable/fleet-room";
export { RunRoom } from "./durable/run-room";

export default {
  fetch: (request, env, ctx) => app.fetch(withCanonicalPath(request), env, ctx),
  /** Cron sweep: uploads that never arrived expire and stop counting against the quota. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweepExpiredUploads(env, createDb(env.DB)).then(() => undefined));
  },
} satisfies ExportedHandler<Bindings>;
