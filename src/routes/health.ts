import { createRoute, z } from "@hono/zod-openapi";
import type { Bindings } from "../env";
import { createRouter, jsonContent } from "../lib/openapi";
import { bearerToken } from "../middleware/auth";
import { probeCallerFleet, probeDatabase, probeServices } from "../services/health";

const tags = ["Health"];
/** Taken at the first request: at module scope workerd's clock still reads 0. */
let startedAt: number | undefined;

const HealthSchema = z
  .object({
    status: z.enum(["healthy", "degraded", "unhealthy"]).openapi({ example: "healthy" }),
    timestamp: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    version: z.string().openapi({ example: "0.1.0" }),
    uptime_seconds: z
      .number()
      .openapi({ example: 12.5, description: "Time since this Worker isolate served its first request" }),
  })
  .openapi("Health");

const BasicHealthSchema = HealthSchema.extend({
  code: z.literal(200).openapi({ description: "Seed 003's envelope" }),
  data: z.object({ status: z.literal("ok") }),
}).openapi("BasicHealth");

const nullablePercent = z.number().nullable().openapi({ example: 25.6 });
const SystemSchema = z
  .object({
    cpu_usage_percent: nullablePercent,
    memory_usage_percent: nullablePercent,
    gpu_usage_percent: nullablePercent,
    gpu_memory_usage_percent: nullablePercent,
    disk_usage_percent: nullablePercent,
  })
  .openapi("SystemLoad", {
    description: "The caller's connected machines, averaged; all null without credentials or reports",
  });

const ServiceSchema = z
  .object({
    name: z.string().openapi({ example: "database" }),
    status: z.enum(["healthy", "unhealthy"]),
    response_time_ms: z.number().openapi({ example: 1.4 }),
    error: z.string().nullable().openapi({ example: null }),
  })
  .openapi("ServiceHealth");

const DetailedSchema = HealthSchema.extend({
  services: z.array(ServiceSchema),
  system: SystemSchema,
}).openapi("DetailedHealth");

const UNKNOWN_LOAD = {
  cpu_usage_percent: null,
  memory_usage_percent: null,
  gpu_usage_percent: null,
  gpu_memory_usage_percent: null,
  disk_usage_percent: null,
};

function basics(env: Bindings) {
  startedAt ??= Date.now();
  return {
    timestamp: new Date().toISOString(),
    version: env.APP_VERSION,
    uptime_seconds: (Date.now() - startedAt) / 1000,
  };
}

const callerToken = (header: string | undefined) => (header ? bearerToken(header) : null);

export const healthRoutes = createRouter();

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags,
    summary: "Basic health",
    responses: { 200: jsonContent(BasicHealthSchema, "The API is up (seed 004's and seed 003's fields)") },
  }),
  (c) =>
    c.json(
      { status: "healthy" as const, ...basics(c.env), code: 200 as const, data: { status: "ok" as const } },
      200,
    ),
);

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health/detailed",
    tags,
    summary: "Health of D1, R2 and Durable Objects, with round-trip times",
    description:
      "With credentials, also the `comfyui` service (healthy when an instance of the caller's pools is alive) and the caller's machines' load in `system`. Only D1, R2 or Durable Objects failing make it a 503.",
    responses: {
      200: jsonContent(DetailedSchema, "Every service answered"),
      503: jsonContent(DetailedSchema, "At least one service failed"),
    },
  }),
  async (c) => {
    const [services, fleet] = await Promise.all([
      probeServices(c.env),
      probeCallerFleet(c.env, c.var.db, callerToken(c.req.header("Authorization"))),
    ]);
    const core = services.every((s) => s.status === "healthy");
    const all = [...services, ...(fleet ? [fleet.comfyui] : [])];
    const body = {
      status: all.every((s) => s.status === "healthy") ? ("healthy" as const) : ("degraded" as const),
      ...basics(c.env),
      services: all,
      system: fleet?.system ?? UNKNOWN_LOAD,
    };
    return core ? c.json(body, 200) : c.json(body, 503);
  },
);

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health/readiness",
    tags,
    summary: "Readiness probe: ready when D1 answers",
    responses: {
      200: jsonContent(z.object({ status: z.literal("ready") }), "Ready"),
      503: jsonContent(z.object({ status: z.literal("not ready"), reason: z.string() }), "Not ready"),
    },
  }),
  async (c) => {
    const db = await probeDatabase(c.env);
    if (db.status === "healthy") return c.json({ status: "ready" as const }, 200);
    return c.json({ status: "not ready" as const, reason: `Database not available: ${db.error}` }, 503);
  },
);

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health/liveness",
    tags,
    summary: "Liveness probe",
    responses: {
      200: jsonContent(z.object({ status: z.literal("alive"), timestamp: z.string() }), "Alive"),
    },
  }),
  (c) => c.json({ status: "alive" as const, timestamp: new Date().toISOString() }, 200),
);
