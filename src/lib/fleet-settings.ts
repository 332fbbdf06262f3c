import { z } from "@hono/zod-openapi";

/**
 * A tenant's fleet settings. Seed 003's `healthCheck.interval` is the agents' heartbeat interval; an
 * instance not heard from for three intervals is not alive. The others tune every pool's Dispatcher.
 */
export const FleetSettingsFields = z
  .object({
    healthCheck: z
      .object({
        interval: z.number().int().min(1000).max(600_000).openapi({
          example: 10_000,
          description: "Agent heartbeat interval in ms; liveness is three intervals",
        }),
      })
      .strict(),
    leaseTtlMs: z.number().int().min(5000).max(3_600_000).openapi({
      example: 30_000,
      description: "How long a job's lease lives without a heartbeat before the run is re-queued",
    }),
    maxAttempts: z.number().int().min(1).max(10).openapi({
      example: 3,
      description: "Attempts a run gets when its machine is lost before it fails",
    }),
    defaultTimeoutMinutes: z.number().int().min(1).max(1440).nullable().openapi({
      example: null,
      description: "Timeout of runs queued without one; null: none",
    }),
  })
  .strict();

export const FleetSettingsSchema = FleetSettingsFields.refine(
  (s) => s.leaseTtlMs >= 2 * s.healthCheck.interval,
  {
    message: "leaseTtlMs must be at least two heartbeat intervals (healthCheck.interval)",
    path: ["leaseTtlMs"],
  },
);

export type FleetSettings = z.infer<typeof FleetSettingsSchema>;

/** The settings of a tenant who never set any: the deployment's env values. */
export function defaultFleetSettings(env: { LEASE_TTL_MS: string; MAX_RUN_ATTEMPTS: string }): FleetSettings {
  const leaseTtlMs = Number(env.LEASE_TTL_MS) || 30_000;
  return {
    healthCheck: { interval: Math.max(1000, Math.floor(leaseTtlMs / 3)) },
    leaseTtlMs,
    maxAttempts: Number(env.MAX_RUN_ATTEMPTS) || 3,
    defaultTimeoutMinutes: null,
  };
}

/** What a pool's Dispatcher needs of the settings. */
export const poolSettings = (s: FleetSettings) => ({
  heartbeatIntervalMs: s.healthCheck.interval,
  leaseTtlMs: s.leaseTtlMs,
  maxAttempts: s.maxAttempts,
  defaultTimeoutMinutes: s.defaultTimeoutMinutes,
});
