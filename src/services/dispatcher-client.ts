import type { Bindings } from "../env";

/** Dispatchers are per tenant and pool, so one tenant's queue never sees another's runs or agents. */
export const dispatcherName = (userId: string, pool: string) => `${userId}/${pool}`;

export const dispatcher = (env: Bindings, userId: string, pool: string) =>
  env.DISPATCHER.getByName(dispatcherName(userId, pool));
