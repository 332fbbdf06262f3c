import { execFileSync } from "node:child_process";
import os from "node:os";
import { round } from "./stats";
import { wranglerJs } from "./wrangler";

/** One line of the results: a figure, the floor it is compared with, and whether it meets its target. */
export type Figure = {
  id: number;
  name: string;
  value: number | null;
  unit: string;
  floor: number | null;
  /** value / floor where there is a floor. */
  ratio: number | null;
  /** The target in words, e.g. "≤ 2× floor"; null for figures reported without one (p99s). */
  target: string | null;
  /** null where there is no target. */
  met: boolean | null;
  /** Sample size, what measured it, anything a reader needs to trust the number. */
  n?: number;
  note?: string;
};

type Check = { kind: "ratio_max" | "ratio_min" | "max" | "min"; limit: number };

/** Builds a figure, computing its ratio and checking it against the target. */
export function figure(
  f: Omit<Figure, "ratio" | "met" | "target"> & { check?: Check; target?: string | null },
): Figure {
  const ratio = f.floor && f.value !== null && Number.isFinite(f.value) ? f.value / f.floor : null;
  let met: boolean | null = null;
  if (f.check) {
    const measured = f.check.kind.startsWith("ratio") ? ratio : f.value;
    met =
      measured !== null && Number.isFinite(measured)
        ? f.check.kind.endsWith("max")
          ? measured <= f.check.limit
          : measured >= f.check.limit
        : false;
  }
  const { check: _check, ...rest } = f;
  return {
    ...rest,
    value: f.value === null ? null : round(f.value),
    floor: f.floor === null ? null : round(f.floor),
    ratio: ratio === null ? null : round(ratio),
    target: f.target ?? null,
    met,
  };
}

export function machineInfo() {
  const cpus = os.cpus();
  let wrangler: string | null = null;
  try {
    wrangler = execFileSync(process.execPath, [wranglerJs, "--version"], {
      encoding: "utf8",
      timeout: 20_000,
    }).trim();
  } catch {
    wrangler = null;
  }
  return {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model.trim() ?? "unknown",
    memory_total_mb: Math.round(os.totalmem() / 2 ** 20),
    load_average_at_start: os.loadavg().map((l) => round(l)),
    node: process.version,
    wrangler,
  };
}

const fmt = (value: number | null) => {
  if (value === null || !Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
};

/** The results as a Markdown table (it reads well in a terminal and pastes into the README). */
export function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    String(f.id),
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.floor === null ? "—" : `${fmt(f.floor)} ${f.unit}`,
    f.ratio === null ? "—" : `${fmt(f.ratio)}×`,
    f.target ?? "—",
    f.met === null ? "" : f.met ? "yes" : "**no**",
  ]);
  const head = ["#", "figure", "value", "floor", "ratio", "target", "met"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
