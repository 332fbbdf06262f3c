import { randomBytes } from "../lib/crypto";

const SECRET_PREFIX = "whsec_";
const encoder = new TextEncoder();

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export const newWebhookSecret = () => `${SECRET_PREFIX}${toBase64(randomBytes(24))}`;

async function signOne(secret: string, content: string): Promise<string> {
  const keyBytes = fromBase64(secret.slice(SECRET_PREFIX.length));
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(content));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/**
 * The three Standard Webhooks headers for one attempt. `secrets` is the current secret and, during a
 * rotation's grace period, the previous one: receivers holding either verify the message.
 */
export async function signatureHeaders(
  secrets: string[],
  message: { id: string; timestampSeconds: number; body: string },
): Promise<Record<string, string>> {
  const content = `${message.id}.${message.timestampSeconds}.${message.body}`;
  const signatures = await Promise.all(secrets.map((s) => signOne(s, content)));
  return {
    "webhook-id": message.id,
    "webhook-timestamp": String(message.timestampSeconds),
    "webhook-signature": signatures.join(" "),
  };
}
