import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses } from "../../lib/openapi";
import {
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  wantsPrometheus,
} from "../../lib/prometheus";
import { requireUser } from "../../middleware/auth";
import { type FleetMetrics, fleetMetrics } from "../../services/metrics";

const percent = z.number().nullable().openapi({ example: 25.6, description: "null: no machine reported it" });

const MetricsSchema = z
  .object({
    cpu_usage_percent: percent,
    memory_usage_percent: percent,
    gpu_usage_percent: percent,
    gpu_memory_usage_percent: percent,
    disk_usage_percent: percent,
    active_executions: z
      .number()
      .int()
      .openapi({ description: "Runs leased to a machine (queued in ComfyUI, running, uploading)" }),
    queue_size: z.number().int().openapi({ description: "Runs waiting for a machine" }),
    total_executions: z.number().int(),
    average_execution_time_seconds: z.number().nullable(),
    completed_executions: z.number().int(),
    failed_executions: z.number().int(),
    cancelled_executions: z.number().int(),
    runs_by_status: z.record(z.string(), z.number().int()),
    machines_online: z.number().int(),
    instances_total: z.number().int(),
    instances_alive: z.number().int(),
    instances_busy: z.number().int(),
  })
  .openapi("Metrics");

const gauge = (name: string, help: string, value: number | null): MetricFamily => ({
  name: `comfy_edge_${name}`,
  help,
  type: "gauge",
  samples: [{ value }],
});

function families(m: FleetMetrics): MetricFamily[] {
  return [
    gauge("cpu_usage_percent", "Mean CPU use of the connected machines", m.cpu_usage_percent),
    gauge("memory_usage_percent", "Mean memory use of the connected machines", m.memory_usage_percent),
    gauge("gpu_usage_percent", "Mean GPU utilisation of the connected machines' GPUs", m.gpu_usage_percent),
    gauge("gpu_memory_usage_percent", "Mean GPU memory use", m.gpu_memory_usage_percent),
    gauge("disk_usage_percent", "Mean disk use of the connected machines", m.disk_usage_percent),
    gauge("active_executions", "Runs leased to a machine", m.active_executions),
    gauge("queue_size", "Runs waiting for a machine", m.queue_size),
    gauge(
      "average_execution_time_seconds",
      "Mean start-to-end time of successful runs",
      m.average_execution_time_seconds,
    ),
    {
      name: "comfy_edge_executions_total",
      help: "Runs ever created, by status",
      type: "counter",
      samples: Object.entries(m.runs_by_status).map(([status, value]) => ({ labels: { status }, value })),
    },
    gauge("machines_online", "Machines with a connected agent", m.machines_online),
    gauge("instances", "ComfyUI instances of the caller's machines", m.instances_total),
    gauge("instances_alive", "Instances whose agent and ComfyUI answer", m.instances_alive),
    gauge("instances_busy", "Instances holding a run", m.instances_busy),
  ];
}

export const metricsRoutes = createRouter();

metricsRoutes.openapi(
  createRoute({
    method: "get",
    path: "/metrics",
    tags: ["Health"],
    security: [{ bearerAuth: [] }],
    summary: "The caller's fleet metrics: JSON (seed 004), or Prometheus text for scrapers",
    description:
      "Prometheus text (format 0.0.4) with `?format=prometheus`, or when `Accept` names `text/plain` or OpenMetrics (as Prometheus' scraper does); JSON otherwise. Also served at `/metrics/`.",
    middleware: [requireUser] as const,
    request: {
      query: z.object({ format: z.enum(["json", "prometheus"]).optional() }).strict(),
    },
    responses: {
      200: {
        description: "The metrics",
        content: {
          "application/json": { schema: MetricsSchema },
          "text/plain": { schema: z.string().openapi({ example: "comfy_edge_queue_size 5" }) },
        },
      },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const metrics = await fleetMetrics(c.env, c.var.db, c.var.principal.userId);
    if (!wantsPrometheus(c.req.header("Accept"), c.req.valid("query").format)) return c.json(metrics, 200);
    return c.text(renderPrometheus(families(metrics)), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  },
);
