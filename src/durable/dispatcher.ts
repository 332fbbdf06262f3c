import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

/** One per machine pool: the run queue, the agents' sockets and their leases. */
export class Dispatcher extends DurableObject<Bindings> {
  /** A round trip for health checks. */
  async ping(): Promise<{ ok: true; at: number }> {
    return { ok: true, at: Date.now() };
  }
}
