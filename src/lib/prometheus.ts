/** One metric family in Prometheus' text exposition format (version 0.0.4). */
export type MetricFamily = {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: { labels?: Record<string, string>; value: number | null }[];
};

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labels(set: Record<string, string> | undefined) {
  const entries = Object.entries(set ?? {});
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Families with no known sample are left out rather than reported as 0. */
export function renderPrometheus(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    const samples = family.samples.filter((s) => s.value !== null);
    if (samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of samples) lines.push(`${family.name}${labels(sample.labels)} ${sample.value}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Prometheus scrapers ask for text/plain or OpenMetrics; browsers and JSON clients do not. */
export function wantsPrometheus(accept: string | undefined, format: string | undefined) {
  if (format) return format === "prometheus";
  const value = (accept ?? "").toLowerCase();
  return !value.startsWith("application/json") && /text\/plain|openmetrics/.test(value);
}
