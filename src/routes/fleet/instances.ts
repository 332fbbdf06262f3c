import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { requireUser, requireUserOrQueryToken } from "../../middleware/auth";
import {
  fleetOverview,
  getInstance,
  listInstances,
  openFleetSocket,
  setInstanceEnabled,
} from "../../services/fleet";
import { envelope, InstanceSchema, OverviewSchema } from "./schemas";

const tags = ["Fleet (seed 003)"];
const security = [{ bearerAuth: [] }];
const InstanceParam = z.object({
  id: z
    .string()
    .min(3)
    .max(200)
    .openapi({ param: { name: "id", in: "path" }, example: "6f1d2c3b-…:comfy-0" }),
});

export const fleetRoutes = createRouter();

fleetRoutes.openapi(
  createRoute({
    method: "get",
    path: "/instances",
    tags,
    security,
    summary: "Every ComfyUI instance of the caller's machines, with live state from the pools' Dispatchers",
    middleware: [requireUser] as const,
    responses: {
      200: jsonContent(envelope(z.array(InstanceSchema), "InstanceList"), "The instances"),
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const data = await listInstances(c.env, c.var.db, c.var.principal.userId);
    return c.json({ code: 200 as const, data }, 200);
  },
);

fleetRoutes.openapi(
  createRoute({
    method: "get",
    path: "/instances/{id}",
    tags,
    security,
    summary: "One instance (`<machine id>:<instance id>`)",
    middleware: [requireUser] as const,
    request: { params: InstanceParam },
    responses: {
      200: jsonContent(envelope(InstanceSchema, "InstanceResponse"), "The instance"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const data = await getInstance(c.env, c.var.db, c.var.principal.userId, c.req.valid("param").id);
    return c.json({ code: 200 as const, data }, 200);
  },
);

fleetRoutes.openapi(
  createRoute({
    method: "put",
    path: "/instances/{id}",
    tags,
    security,
    summary: "Enable or disable an instance; a disabled one takes no new job and finishes the one it has",
    middleware: [requireUser] as const,
    request: {
      params: InstanceParam,
      body: jsonBody(z.object({ enabled: z.boolean() }).strict().openapi("SetInstanceEnabled")),
    },
    responses: {
      200: jsonContent(envelope(InstanceSchema, "InstanceResponse"), "The instance as it is now"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { enabled } = c.req.valid("json");
    const data = await setInstanceEnabled(c.env, c.var.db, c.var.principal.userId, id, enabled);
    return c.json({ code: 200 as const, data }, 200);
  },
);

fleetRoutes.openapi(
  createRoute({
    method: "get",
    path: "/monitor/overview",
    tags,
    security,
    summary: "Instances alive and busy, tasks pending, running and completed",
    middleware: [requireUser] as const,
    responses: {
      200: jsonContent(envelope(OverviewSchema, "MonitorOverviewResponse"), "The overview"),
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const data = await fleetOverview(c.env, c.var.db, c.var.principal.userId);
    return c.json({ code: 200 as const, data }, 200);
  },
);

fleetRoutes.openapi(
  createRoute({
    method: "get",
    path: "/ws",
    tags,
    security,
    summary: "The tenant's live fleet events over a WebSocket (also at `/ws`)",
    description:
      "Messages are `{type, timestamp, data, requestId}`: `global_status` on connect and after instance changes, `instance_status`, `task_progress` (at most one per task per 500 ms, newest value), `task_completed`, `task_failed`. Browsers may pass the credential as `?token=`. Send `ping` for a fresh `global_status`.",
    middleware: [requireUserOrQueryToken] as const,
    responses: { 101: { description: "Switching protocols" }, ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("bad_request", "This endpoint takes a WebSocket upgrade");
    }
    return openFleetSocket(c.env, c.var.db, c.var.principal.userId, c.req.raw);
  },
);
