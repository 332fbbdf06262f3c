export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * Capped well below any lease TTL: after a control-plane restart the agent is back within seconds
 * (at most 5 s after its last try), before the leases it holds could lapse.
 */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 5_000 };

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(cap, base·2^attempt)), so that many
 * agents that lost the control plane at the same moment do not all come back at the same moment.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
