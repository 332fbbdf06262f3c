import { createRoute, z } from "@hono/zod-openapi";
import type { Bindings } from "../env";
import { createRouter, jsonContent } from "../lib/openapi";
import { probeDatabase, probeServices } from "../services/health";

const startedAt = Date.now();
const tags = ["Health"];

const HealthSchema = z
  .object({
    status: z.enum(["healthy", "degraded", "unhealthy"]).openapi({ example: "healthy" }),
    timestamp: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    version: z.string().openapi({ example: "0.1.0" }),
    uptime_seconds: z.number().openapi({ example: 12.5, description: "Age of this Worker isolate" }),
  })
  .openapi("Health");

const ServiceSchema = z
  .object({
    name: z.string().openapi({ example: "database" }),
    status: z.enum(["healthy", "unhealthy"]),
    response_time_ms: z.number().openapi({ example: 1.4 }),
    error: z.string().nullable().openapi({ example: null }),
  })
  .openapi("ServiceHealth");

const DetailedSchema = HealthSchema.extend({ services: z.array(ServiceSchema) }).openapi("DetailedHealth");

function basics(env: Bindings) {
  return {
    timestamp: new Date().toISOString(),
    version: env.APP_VERSION,
    uptime_seconds: (Date.now() - startedAt) / 1000,
  };
}

export const healthRoutes = createRouter();

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags,
    summary: "Basic health",
    responses: { 200: jsonContent(HealthSchema, "The API is up") },
  }),
  (c) => c.json({ status: "healthy" as const, ...basics(c.env) }, 200),
);

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health/detailed",
    tags,
    summary: "Health of D1, R2 and Durable Objects, with round-trip times",
    responses: {
      200: jsonContent(DetailedSchema, "Every service answered"),
      503: jsonContent(DetailedSchema, "At least one service failed"),
    },
  }),
  async (c) => {
    const services = await probeServices(c.env);
    const healthy = services.every((s) => s.status === "healthy");
    const body = {
      status: healthy ? ("healthy" as const) : ("degraded" as const),
      ...basics(c.env),
      services,
    };
    return healthy ? c.json(body, 200) : c.json(body, 503);
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
