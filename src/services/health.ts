import { sql } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { pingDispatcher } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { authenticate } from "./auth";
import { fleetSnapshot, instancesOf } from "./fleet";
import { fleetLoad } from "./metrics";

export type ServiceHealth = {
  name: string;
  status: "healthy" | "unhealthy";
  response_time_ms: number;
  error: string | null;
};

async function probe(name: string, check: () => Promise<unknown>): Promise<ServiceHealth> {
  const start = performance.now();
  try {
    await check();
    return { name, status: "healthy", response_time_ms: performance.now() - start, error: null };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { name, status: "unhealthy", response_time_ms: performance.now() - start, error };
  }
}

export const probeDatabase = (env: Bindings) => probe("database", () => createDb(env.DB).run(sql`select 1`));

/** D1, R2 and Durable Objects, each with its round-trip time. */
export const probeServices = (env: Bindings) =>
  Promise.all([
    probeDatabase(env),
    probe("storage", () => env.BUCKET.head("health/probe")),
    probe("durable_objects", () => pingDispatcher(env)),
  ]);

/** The caller's ComfyUI service and machines' load, when the request carries credentials. */
export async function probeCallerFleet(env: Bindings, db: Db, token: string | null) {
  if (token === null) return null;
  const principal = await authenticate(db, env, token);
  let system: ReturnType<typeof fleetLoad> | null = null;
  const comfyui = await probe("comfyui", async () => {
    const snapshot = await fleetSnapshot(env, db, principal.userId);
    system = fleetLoad(snapshot);
    const alive = instancesOf(snapshot).filter((i) => i.alive).length;
    if (alive === 0) throw new Error("No ComfyUI instance of your pools is alive");
  });
  return { comfyui, system };
}
