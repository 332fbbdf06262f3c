import type { Db } from "../../db/client";
import { sha256Hex } from "../../lib/crypto";
import { type ModelsMessage, modelsDigestInput } from "../../protocol/v1";
import { replaceInstanceModels } from "../../stores/models";
import type { SlotModels } from "./slot-models";

type ReportedInstance = { id: string; models_hash?: string | undefined };

/** The instances whose reported inventory hash is not the one this Dispatcher holds: it asks for those. */
export function staleModelInventories(slots: SlotModels, machineId: string, instances: ReportedInstance[]) {
  const stale: { instance_id: string; hash: string }[] = [];
  for (const { id, models_hash: hash } of instances) {
    if (hash && slots.hash(machineId, id) !== hash) stale.push({ instance_id: id, hash });
  }
  return stale;
}

/**
 * Stores an inventory an agent sent, in D1 (the model routes read it) and in the Dispatcher (routing
 * reads it); refused (returns a reason) when it does not match its hash.
 */
export async function storeReportedModels(
  db: Db,
  slots: SlotModels,
  machineId: string,
  message: ModelsMessage,
): Promise<string | undefined> {
  if ((await sha256Hex(modelsDigestInput(message.models))) !== message.hash)
    return "models: the list does not match its hash";
  await replaceInstanceModels(db, {
    machineId,
    instanceId: message.instance_id,
    hash: message.hash,
    models: message.models,
  });
  slots.replace(machineId, message.instance_id, message.hash, message.models);
  return undefined;
}
