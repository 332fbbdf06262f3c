import type { Db } from "../../db/client";
import { sha256Hex } from "../../lib/crypto";
import type { ObjectInfoMessage } from "../../protocol/v1";
import {
  hasNodeDefinitions,
  linkInstanceDefinitions,
  saveNodeDefinitions,
} from "../../stores/node-definitions";

type ReportedInstance = { id: string; object_info_hash?: string | undefined };

/**
 * Links each instance to the definitions its hash names; returns the hashes the control plane lacks,
 * which the Dispatcher then asks the agent for (so a reconnect does not resend hundreds of KB).
 */
export async function linkReportedDefinitions(db: Db, machineId: string, instances: ReportedInstance[]) {
  const missing: { instance_id: string; hash: string }[] = [];
  for (const { id, object_info_hash: hash } of instances) {
    if (!hash) continue;
    if (await hasNodeDefinitions(db, hash)) await linkInstanceDefinitions(db, machineId, id, hash);
    else missing.push({ instance_id: id, hash });
  }
  return missing;
}

/** Stores definitions an agent sent; refused (returns a reason) when they do not match their hash. */
export async function storeReportedDefinitions(
  db: Db,
  bucket: R2Bucket,
  machineId: string,
  message: ObjectInfoMessage,
): Promise<string | undefined> {
  const json = JSON.stringify(message.definitions);
  if ((await sha256Hex(json)) !== message.hash) return "object_info: definitions do not match their hash";
  await saveNodeDefinitions(db, bucket, {
    hash: message.hash,
    json,
    classCount: Object.keys(message.definitions).length,
  });
  await linkInstanceDefinitions(db, machineId, message.instance_id, message.hash);
  return undefined;
}
