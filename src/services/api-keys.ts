import type { Db } from "../db/client";
import { randomToken, sha256Hex } from "../lib/crypto";
import { notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { type ApiKeyRow, insertApiKey, listApiKeys, revokeApiKey } from "../stores/api-keys";
import { forgetApiKey } from "./auth";
import { API_KEY_PREFIX } from "./tokens";

export function publicApiKey(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt,
    last_used_at: row.lastUsedAt,
  };
}

/** The plaintext is returned once, here; only its SHA-256 is stored. */
export async function createApiKey(db: Db, userId: string, name: string) {
  const key = randomToken(API_KEY_PREFIX);
  const row = await insertApiKey(db, {
    id: newId(),
    userId,
    name,
    prefix: key.slice(0, API_KEY_PREFIX.length + 6),
    keyHash: await sha256Hex(key),
  });
  return { ...publicApiKey(row), key };
}

export async function listKeys(db: Db, userId: string) {
  return (await listApiKeys(db, userId)).map(publicApiKey);
}

export async function deleteApiKey(db: Db, userId: string, id: string) {
  if (!(await revokeApiKey(db, userId, id))) throw notFound("API key");
  forgetApiKey(id);
}
