import { execFile } from "node:child_process";
import { cpus, hostname, arch as osArch, platform, release, totalmem } from "node:os";
import type * as z from "zod/mini";
import type { Gpu, HelloMessage } from "../../src/protocol/v1";
import { AGENT_VERSION } from "./version";

export type GpuInfo = z.infer<typeof Gpu>;
export type AgentInfo = HelloMessage["agent"];

const NVIDIA_SMI_ARGS = [
  "--query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,temperature.gpu,driver_version",
  "--format=csv,noheader,nounits",
];

export function agentInfo(): AgentInfo {
  const cpuList = cpus();
  return {
    version: AGENT_VERSION,
    hostname: hostname(),
    os: `${platform()} ${release()}`,
    arch: osArch(),
    cpus: cpuList.length,
    cpu_model: cpuList[0]?.model.trim() || undefined,
    memory_total_mb: Math.round(totalmem() / 1024 / 1024),
    node_version: process.version,
  };
}

/** GPUs as nvidia-smi reports them; [] where there is no nvidia-smi or it fails. */
export function readGpus(command = "nvidia-smi", timeoutMs = 5000): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile(command, NVIDIA_SMI_ARGS, { timeout: timeoutMs, windowsHide: true }, (error, stdout) => {
      resolve(error ? [] : parseNvidiaSmiCsv(stdout));
    });
  });
}

/** Parses `nvidia-smi --query-gpu=… --format=csv,noheader,nounits`; skips lines it cannot read. */
export function parseNvidiaSmiCsv(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const raw = line.split(",");
    if (raw.length < 8) continue;
    // Only the name can hold a comma, so read the other fields from both ends.
    const [index, uuid, memTotal, memUsed, util, temp, driver] = [raw[0], ...raw.slice(-6)].map((f) =>
      f?.trim(),
    );
    const name = raw.slice(1, -6).join(",").trim();
    const gpuIndex = Number.parseInt(index ?? "", 10);
    if (!Number.isInteger(gpuIndex) || !name) continue;
    gpus.push({
      index: gpuIndex,
      name,
      uuid: reportedText(uuid),
      memory_total_mb: reportedNumber(memTotal),
      memory_used_mb: reportedNumber(memUsed),
      utilization_percent: reportedNumber(util),
      temperature_c: reportedNumber(temp),
      driver_version: reportedText(driver),
    });
  }
  return gpus;
}

/** nvidia-smi writes `[N/A]`, `[Not Supported]` or `N/A` for fields a GPU does not report. */
const unreported = (field: string | undefined) => !field || field.startsWith("[") || field === "N/A";

function reportedText(field: string | undefined): string | undefined {
  return unreported(field) ? undefined : field;
}

function reportedNumber(field: string | undefined): number | undefined {
  if (unreported(field)) return undefined;
  const value = Number(field);
  return Number.isFinite(value) ? value : undefined;
}
