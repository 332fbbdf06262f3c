import type { Db } from "../db/client";
import { type InventoryInstance, inventoryInstanceRows, type ModelScope } from "./models";
import { definitionHashRows, distinctHashes } from "./node-definitions";

/**
 * What checking a new run reads about the machines that may run it: the node-definition hashes its
 * pool's machines report, and the instances in its scope that reported a model inventory.
 */
export type PoolState = { definitionHashes: string[]; instances: InventoryInstance[] };

/** Both in one round trip. */
export async function readPoolState(db: Db, userId: string, scope: ModelScope): Promise<PoolState> {
  const [hashRows, instances] = await db.batch([
    definitionHashRows(db, userId, scope.pool),
    inventoryInstanceRows(db, userId, scope),
  ]);
  return { definitionHashes: distinctHashes(hashRows), instances };
}
