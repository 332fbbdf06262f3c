import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { requireUser } from "../../middleware/auth";
import { KiB, limitBody } from "../../middleware/body-limit";
import { getRun } from "../../services/runs";
import {
  changeEndpoint,
  createEndpoint,
  deliveryLog,
  endpointView,
  getEndpoint,
  listTenantEndpoints,
  redeliver,
  removeEndpoint,
} from "../../webhooks/endpoints";
import { rotateTenantSecret } from "../../webhooks/secrets";
import { RunId } from "../runs/schemas";
import {
  CreatedEndpointSchema,
  DeliverySchema,
  EndpointInputSchema,
  EndpointPatchSchema,
  EndpointSchema,
  PageQuery,
  SecretSchema,
} from "./schemas";

const tags = ["Webhooks"];
const security = [{ bearerAuth: [] }];
const Id = z.string().min(1).max(64);
const IdParam = z.object({ id: Id.openapi({ param: { name: "id", in: "path" } }) });
const ctxOf = (c: Context<AppEnv>) => ({ env: c.env, db: c.var.db, userId: c.var.principal.userId });

export const webhookRoutes = createRouter();
webhookRoutes.use("/webhooks", requireUser, limitBody(8 * KiB));
webhookRoutes.use("/webhooks/*", requireUser, limitBody(8 * KiB));

webhookRoutes.openapi(
  createRoute({
    method: "post",
    path: "/webhooks",
    tags,
    security,
    summary: "Subscribe a URL to run and machine events",
    description:
      "Messages are signed per Standard Webhooks with the tenant's `whsec_` secret, which this call returns the first time one is created.",
    request: { body: jsonBody(EndpointInputSchema) },
    responses: {
      201: jsonContent(CreatedEndpointSchema, "The endpoint"),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => c.json(await createEndpoint(ctxOf(c), c.req.valid("json")), 201),
);

webhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/webhooks",
    tags,
    security,
    summary: "Your webhook endpoints",
    responses: {
      200: jsonContent(z.object({ endpoints: z.array(EndpointSchema) }), "Endpoints, newest first"),
      ...errorResponses(401, 403),
    },
  }),
  async (c) => c.json({ endpoints: await listTenantEndpoints(ctxOf(c)) }, 200),
);

webhookRoutes.openapi(
  createRoute({
    method: "post",
    path: "/webhooks/secret/rotate",
    tags,
    security,
    summary: "Create or rotate the tenant's signing secret (shown once)",
    description: "The previous secret keeps signing alongside the new one for 24 hours.",
    responses: { 200: jsonContent(SecretSchema, "The new secret"), ...errorResponses(401, 403) },
  }),
  async (c) => c.json(await rotateTenantSecret(c.var.db, c.var.principal.userId), 200),
);

webhookRoutes.openapi(
  createRoute({
    method: "post",
    path: "/webhooks/deliveries/{id}/redeliver",
    tags,
    security,
    summary: "Send one delivery again (same webhook-id and body)",
    request: { params: IdParam },
    responses: { 202: jsonContent(DeliverySchema, "Queued again"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => c.json(await redeliver(ctxOf(c), c.req.valid("param").id), 202),
);

webhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/webhooks/{id}",
    tags,
    security,
    summary: "One webhook endpoint",
    request: { params: IdParam },
    responses: { 200: jsonContent(EndpointSchema, "The endpoint"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => c.json(endpointView(await getEndpoint(ctxOf(c), c.req.valid("param").id)), 200),
);

webhookRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/webhooks/{id}",
    tags,
    security,
    summary: "Change an endpoint's URL, events, description or enabled flag",
    request: { params: IdParam, body: jsonBody(EndpointPatchSchema) },
    responses: {
      200: jsonContent(EndpointSchema, "The endpoint"),
      ...errorResponses(400, 401, 403, 404, 413),
    },
  }),
  async (c) => c.json(await changeEndpoint(ctxOf(c), c.req.valid("param").id, c.req.valid("json")), 200),
);

webhookRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/webhooks/{id}",
    tags,
    security,
    summary: "Delete an endpoint (its delivery log stays readable through the runs)",
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }), "Deleted"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    await removeEndpoint(ctxOf(c), id);
    return c.json({ id, deleted: true as const }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/webhooks/{id}/deliveries",
    tags,
    security,
    summary: "An endpoint's delivery log, newest first, with every attempt",
    request: { params: IdParam, query: PageQuery },
    responses: {
      200: jsonContent(z.object({ deliveries: z.array(DeliverySchema) }), "Deliveries"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const endpoint = await getEndpoint(ctxOf(c), c.req.valid("param").id);
    const deliveries = await deliveryLog(ctxOf(c), { endpointId: endpoint.id }, c.req.valid("query"));
    return c.json({ deliveries }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run/{run_id}/webhooks",
    tags,
    security,
    summary: "A run's webhook deliveries (its own URL and subscribed endpoints), newest first",
    middleware: [requireUser] as const,
    request: {
      params: z.object({ run_id: RunId.openapi({ param: { name: "run_id", in: "path" } }) }),
      query: PageQuery,
    },
    responses: {
      200: jsonContent(z.object({ deliveries: z.array(DeliverySchema) }), "Deliveries"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const run = await getRun(c.var.db, c.var.principal.userId, c.req.valid("param").run_id);
    const deliveries = await deliveryLog(ctxOf(c), { runId: run.id }, c.req.valid("query"));
    return c.json({ deliveries }, 200);
  },
);
