import type { Db } from "../db/client";
import { AppError } from "../lib/errors";
import { listMachines } from "../stores/machines";

/** A GPU requirement matches a reported GPU name by case-insensitive substring ("a100" in "NVIDIA A100-SXM4-80GB"). */
const gpuMatches = (requirement: string, names: readonly string[]) =>
  names.some((name) => name.toLowerCase().includes(requirement.toLowerCase()));

const reportedGpuNames = (info: Record<string, unknown> | null) =>
  Array.isArray(info?.gpus)
    ? info.gpus.flatMap((gpu: unknown) =>
        typeof gpu === "object" && gpu !== null && typeof (gpu as { name?: unknown }).name === "string"
          ? [(gpu as { name: string }).name]
          : [],
      )
    : [];

/**
 * Refuses a GPU requirement no machine of the pool (or the pinned machine) has ever reported, so such a
 * run is not left waiting for a machine that cannot exist. A match offline is accepted: it waits for it.
 */
export async function checkGpuRequirement(
  db: Db,
  userId: string,
  where: { pool: string; machineId?: string | null },
  gpu: string,
) {
  const machines = (await listMachines(db, userId)).filter((m) =>
    where.machineId ? m.id === where.machineId : m.pool === where.pool,
  );
  if (machines.some((m) => gpuMatches(gpu, reportedGpuNames(m.info)))) return;
  const scope = where.machineId
    ? "the deployment's machine has never"
    : `no machine of pool "${where.pool}" has ever`;
  throw new AppError(
    "validation_error",
    `GPU "${gpu}" is not available: ${scope} reported a GPU whose name contains it`,
    [{ code: "GPU_UNAVAILABLE", message: `No machine reports a GPU matching "${gpu}"`, field: "gpu" }],
  );
}
