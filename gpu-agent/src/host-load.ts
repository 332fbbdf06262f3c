import { statfs } from "node:fs/promises";
import { cpus, freemem, totalmem } from "node:os";
import type * as z from "zod/mini";
import type { Gpu, SystemLoad } from "../../src/protocol/v1";

type CpuTimes = { idle: number; total: number };

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** The host's CPU (since the previous reading), memory and disk (of `diskPath`) use, for heartbeats. */
export class HostLoad {
  private previous = cpuTimes();
  private disk: { used: number; total: number } | undefined;

  constructor(private readonly diskPath: string) {}

  /** Refreshes the disk figures, which need a system call the heartbeat should not wait on. */
  async refreshDisk(): Promise<void> {
    try {
      const s = await statfs(this.diskPath);
      this.disk = { total: s.blocks * s.bsize, used: (s.blocks - s.bfree) * s.bsize };
    } catch {
      this.disk = undefined;
    }
  }

  read(): SystemLoad {
    const now = cpuTimes();
    const total = now.total - this.previous.total;
    const idle = now.idle - this.previous.idle;
    this.previous = now;
    const gb = (bytes: number) => Math.round((bytes / 1024 ** 3) * 10) / 10;
    return {
      cpu_percent: total > 0 ? Math.round((1 - idle / total) * 1000) / 10 : undefined,
      memory_total_mb: Math.round(totalmem() / 1024 ** 2),
      memory_used_mb: Math.round((totalmem() - freemem()) / 1024 ** 2),
      disk_total_gb: this.disk ? gb(this.disk.total) : undefined,
      disk_used_gb: this.disk ? gb(this.disk.used) : undefined,
    };
  }
}

type ComfyDevice = {
  name?: unknown;
  type?: unknown;
  index?: unknown;
  vram_total?: unknown;
  vram_free?: unknown;
};

/**
 * GPUs as ComfyUI's `/system_stats` lists them (`devices`), for hosts without nvidia-smi: every device
 * that is not the CPU, named without ComfyUI's `cuda:0 … : allocator` decoration.
 */
export function gpusFromSystemStats(stats: Record<string, unknown> | undefined): z.infer<typeof Gpu>[] {
  const devices = Array.isArray(stats?.devices) ? (stats.devices as ComfyDevice[]) : [];
  return devices
    .filter((d) => typeof d.type === "string" && d.type !== "cpu" && typeof d.name === "string")
    .map((d, i) => {
      const total = typeof d.vram_total === "number" ? d.vram_total : undefined;
      const free = typeof d.vram_free === "number" ? d.vram_free : undefined;
      const mb = (bytes: number) => Math.round(bytes / 1024 ** 2);
      return {
        index: typeof d.index === "number" ? d.index : i,
        name: String(d.name)
          .replace(/^\w+:\d+\s+/, "")
          .replace(/\s+:\s+\S+$/, ""),
        memory_total_mb: total === undefined ? undefined : mb(total),
        memory_used_mb: total === undefined || free === undefined ? undefined : mb(total - free),
      };
    });
}
