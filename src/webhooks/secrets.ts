import type { Db } from "../db/client";
import { findSecret, insertSecretIfAbsent, rotateSecret } from "../stores/webhooks";
import { newWebhookSecret } from "./signing";

const ROTATION_GRACE_MS = 24 * 3600_000;

/**
 * The secrets that sign the tenant's messages: the current one (created on first need, so per-run
 * webhooks are signed even before the tenant asked for a secret) and, for a day after a rotation, the
 * previous one.
 */
export async function signingSecrets(db: Db, userId: string): Promise<string[]> {
  let row = await findSecret(db, userId);
  if (!row) {
    await insertSecretIfAbsent(db, userId, newWebhookSecret());
    row = await findSecret(db, userId);
  }
  if (!row) return [];
  const previousValid =
    row.previousSecret && row.previousExpiresAt && Date.parse(row.previousExpiresAt) > Date.now();
  return previousValid ? [row.secret, row.previousSecret as string] : [row.secret];
}

/** Creates the tenant's secret if it has none; returns it only when it was just created (shown once). */
export async function createSecretIfAbsent(db: Db, userId: string): Promise<string | null> {
  const secret = newWebhookSecret();
  return (await insertSecretIfAbsent(db, userId, secret)) ? secret : null;
}

/** A new secret, returned once; the old one keeps signing alongside it for a day. */
export async function rotateTenantSecret(db: Db, userId: string) {
  const secret = newWebhookSecret();
  const previousExpiresAt = new Date(Date.now() + ROTATION_GRACE_MS).toISOString();
  await rotateSecret(db, userId, secret, previousExpiresAt);
  return { secret, previous_valid_until: previousExpiresAt };
}
