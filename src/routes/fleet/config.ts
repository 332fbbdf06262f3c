import { createRoute, z } from "@hono/zod-openapi";
import { FleetSettingsFields } from "../../lib/fleet-settings";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { requireUser } from "../../middleware/auth";
import { readFleetConfig, updateFleetConfig } from "../../services/fleet-config";
import { envelope } from "./schemas";

const tags = ["Fleet (seed 003)"];
const security = [{ bearerAuth: [] }];

const ServerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    pool: z.string(),
    enabled: z.boolean(),
    status: z.string(),
    disabledInstances: z.array(z.string()),
  })
  .openapi("ConfigServer");

const ConfigSchema = z
  .object({
    healthCheck: z.object({ interval: z.number().int() }),
    leaseTtlMs: z.number().int(),
    maxAttempts: z.number().int(),
    defaultTimeoutMinutes: z.number().int().nullable(),
    servers: z.array(ServerSchema).openapi({ description: "The caller's machines (agents)" }),
    updatedAt: z.string().nullable().openapi({ description: "null: never set, these are the defaults" }),
  })
  .openapi("FleetConfig");

// The object schema without the cross-field rule, made partial; the service checks the merged result.
const UpdateSchema = FleetSettingsFields.partial()
  .extend({
    servers: z
      .array(z.object({ id: z.string().min(1).max(64), enabled: z.boolean() }).strict())
      .max(1000)
      .optional()
      .openapi({ description: "Enable or disable whole machines by id; others are left as they are" }),
  })
  .strict()
  .openapi("UpdateFleetConfig");

export const fleetConfigRoutes = createRouter();

fleetConfigRoutes.openapi(
  createRoute({
    method: "get",
    path: "/config",
    tags,
    security,
    summary: "The caller's fleet settings, as stored",
    middleware: [requireUser] as const,
    responses: {
      200: jsonContent(envelope(ConfigSchema, "FleetConfigResponse"), "The settings"),
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const data = await readFleetConfig(c.env, c.var.db, c.var.principal.userId);
    return c.json({ code: 200 as const, data }, 200);
  },
);

fleetConfigRoutes.openapi(
  createRoute({
    method: "put",
    path: "/config",
    tags,
    security,
    summary: "Change fleet settings (fields given replace the stored ones) and enable or disable machines",
    description:
      "`healthCheck.interval` is the agents' heartbeat interval in ms (an instance not heard from for three intervals is not alive); `leaseTtlMs` must be at least two intervals. Every pool's Dispatcher applies the settings at once; connected agents pick up a new heartbeat interval when they reconnect.",
    middleware: [requireUser] as const,
    request: { body: jsonBody(UpdateSchema) },
    responses: {
      200: jsonContent(envelope(ConfigSchema, "FleetConfigResponse"), "The settings as stored now"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const data = await updateFleetConfig(c.env, c.var.db, c.var.principal.userId, c.req.valid("json"));
    return c.json({ code: 200 as const, data }, 200);
  },
);
