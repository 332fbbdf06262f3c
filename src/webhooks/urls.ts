import type { Bindings } from "../env";
import { assertPublicUrl } from "../lib/public-url";

/** Refuses a webhook URL the control plane must not call; loopback only where local development allows it. */
export function checkWebhookUrl(env: Bindings, field: string, value: string): string {
  assertPublicUrl(field, value, { allowLoopback: String(env.ALLOW_LOCAL_WEBHOOKS) === "true" });
  return value;
}
