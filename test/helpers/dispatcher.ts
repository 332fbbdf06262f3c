import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Dispatcher } from "../../src/durable/dispatcher";

export const dispatcherOf = (userId: string, pool = "default") =>
  env.DISPATCHER.getByName(`${userId}/${pool}`);

/** Moves time forward for the Dispatcher: expires leases and/or deadlines, then fires its alarm. */
export async function expireAndRunAlarm(userId: string, what: { leases?: boolean; deadlines?: boolean }) {
  const stub = dispatcherOf(userId);
  await runInDurableObject(stub, (_instance: Dispatcher, state) => {
    if (what.leases) state.storage.sql.exec("UPDATE jobs SET lease_expires_at = 1 WHERE state != 'queued'");
    if (what.deadlines)
      state.storage.sql.exec("UPDATE jobs SET deadline_at = 1 WHERE deadline_at IS NOT NULL");
  });
  await runInDurableObject(stub, (_instance: Dispatcher, state) =>
    state.storage.setAlarm(Date.now() + 60_000),
  );
  return runDurableObjectAlarm(stub);
}
