import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { requireUser } from "../middleware/auth";
import { KiB, limitBody } from "../middleware/body-limit";
import { createApiKey, deleteApiKey, listKeys } from "../services/api-keys";

const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: "6c1e2f0a-3b7d-4c55-8f0e-9a1b2c3d4e5f" }),
    name: z.string().openapi({ example: "production" }),
    prefix: z.string().openapi({ example: "ce_live_a1B2c3" }),
    created_at: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    last_used_at: z.string().nullable().openapi({ example: null }),
  })
  .openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ example: "ce_live_a1B2c3…", description: "Shown once; store it now" }),
}).openapi("CreatedApiKey");

const tags = ["API keys"];
const security = [{ bearerAuth: [] }];
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

export const keyRoutes = createRouter();
keyRoutes.use("/keys", requireUser, limitBody(4 * KiB));
keyRoutes.use("/keys/*", requireUser);

keyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/keys",
    tags,
    security,
    summary: "Create an API key",
    request: {
      body: jsonBody(
        z.object({ name: z.string().trim().min(1).max(100).openapi({ example: "production" }) }),
      ),
    },
    responses: {
      201: jsonContent(CreatedApiKeySchema, "The key, with its plaintext shown this once"),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => c.json(await createApiKey(c.var.db, c.var.principal.userId, c.req.valid("json").name), 201),
);

keyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/keys",
    tags,
    security,
    summary: "List your API keys (never their plaintext)",
    responses: { 200: jsonContent(z.array(ApiKeySchema), "Your active keys"), ...errorResponses(401, 403) },
  }),
  async (c) => c.json(await listKeys(c.var.db, c.var.principal.userId), 200),
);

keyRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/keys/{id}",
    tags,
    security,
    summary: "Revoke an API key",
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), revoked: z.literal(true) }), "Revoked"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await deleteApiKey(c.var.db, c.var.principal.userId, id);
    return c.json({ id, revoked: true as const }, 200);
  },
);
