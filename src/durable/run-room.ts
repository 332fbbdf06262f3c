import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

/** One per run: its subscribers, its numbered event log and its latest snapshot. */
export class RunRoom extends DurableObject<Bindings> {
  async ping(): Promise<{ ok: true }> {
    return { ok: true };
  }
}
