import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { AppEnv } from "./env";
import { validationError } from "./lib/validation";
import { handleError, handleNotFound } from "./middleware/errors";
import { idempotency } from "./middleware/idempotency";
import { guardJsonBody } from "./middleware/json-guard";
import { requestContext } from "./middleware/request-context";
import { authRoutes } from "./routes/auth";
import { deploymentRoutes } from "./routes/deployments";
import { assetRoutes } from "./routes/files/assets";
import { fileRoutes } from "./routes/files/files";
import { uploadRoutes } from "./routes/files/uploads";
import { agentRoutes } from "./routes/fleet/agent";
import { fleetConfigRoutes } from "./routes/fleet/config";
import { fleetRoutes } from "./routes/fleet/instances";
import { machineRoutes } from "./routes/fleet/machines";
import { metricsRoutes } from "./routes/fleet/metrics";
import { modelDownloadRoutes } from "./routes/fleet/model-downloads";
import { modelRoutes } from "./routes/fleet/models";
import { healthRoutes } from "./routes/health";
import { keyRoutes } from "./routes/keys";
import { runRoutes } from "./routes/runs/comfydeploy";
import { executionRoutes } from "./routes/runs/executions";
import { runPreviewRoutes } from "./routes/runs/previews";
import { taskRoutes } from "./routes/runs/tasks";
import { webhookRoutes } from "./routes/webhooks/endpoints";
import { EndpointEventSchema, ExecutionEventSchema } from "./routes/webhooks/schemas";
import { workflowRoutes } from "./routes/workflows";

const API_DESCRIPTION = `Run ComfyUI workflows on GPU machines anywhere, through one global API.

**Webhooks.** Runs take \`webhook\` / \`webhook_url\` (and \`webhook_intermediate_status\`); tenants subscribe with \`/api/webhooks\`. A seed 004 run's webhook body is \`WebhookExecutionEvent\` (\`workflow.started|completed|failed|cancelled|timeout\`); a ComfyDeploy run's is the \`Run\` plus \`event\` (\`run.<status>\`); tenant endpoints get \`WebhookEndpointEvent\` (\`run.<status>\`, \`machine.online\`, \`machine.offline\`). Every request is signed per Standard Webhooks: \`webhook-id\` (the same across retries), \`webhook-timestamp\`, \`webhook-signature\` = \`v1,\` + base64 HMAC-SHA256 over \`id.timestamp.body\` with the tenant's \`whsec_\` secret (verify with the \`standardwebhooks\` package). 5xx, 408, 429, timeouts (10 s) and connection errors are retried with exponential backoff and jitter for about a day, then the delivery is dead; other 4xx are final.

**Idempotency.** Any POST takes \`Idempotency-Key\`: the same key and body within 24 h replays the first response with \`Idempotent-Replayed: true\`; another body is 422 \`idempotency_key_reused\`; a repeat while the first runs is 409 \`idempotency_key_in_progress\` with \`Retry-After\`.

**Rate limits.** 60 requests a minute, 1,000 an hour, 10,000 a day per principal; \`X-RateLimit-Limit\`, \`X-RateLimit-Remaining\`, \`X-RateLimit-Reset\` on authenticated responses; past a limit 429 \`rate_limit_exceeded\` with \`Retry-After\`. 10 failed logins or registrations in 15 minutes per account or address answer 429 until the window passes.`;

function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
  app.use("*", requestContext);
  app.use("/api/*", guardJsonBody);
  app.use("*", idempotency);
  app.onError(handleError);
  app.notFound(handleNotFound);

  const routers = [
    healthRoutes,
    authRoutes,
    keyRoutes,
    machineRoutes,
    agentRoutes,
    runRoutes,
    runPreviewRoutes,
    executionRoutes,
    workflowRoutes,
    deploymentRoutes,
    fileRoutes,
    uploadRoutes,
    assetRoutes,
    webhookRoutes,
    fleetRoutes,
    fleetConfigRoutes,
    metricsRoutes,
    modelRoutes,
    modelDownloadRoutes,
    taskRoutes,
  ];
  for (const routes of routers) app.route("/api", routes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`ce_live_…`) or a user's access JWT from `/api/auth/login`.",
  });
  app.openAPIRegistry.register("WebhookExecutionEvent", ExecutionEventSchema);
  app.openAPIRegistry.register("WebhookEndpointEvent", EndpointEventSchema);
  app.doc31("/api/doc", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "comfy-edge API",
      version: c.env.APP_VERSION,
      description: API_DESCRIPTION,
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/api/reference", Scalar({ url: "/api/doc", pageTitle: "comfy-edge API reference" }));
  // The dashboard is static assets under /app/ (wrangler.toml); these two paths reach the Worker.
  for (const path of ["/", "/app"]) app.get(path, (c) => c.redirect("/app/", 302));
  return app;
}

export const app = createApp();
