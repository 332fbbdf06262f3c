import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { AppEnv } from "./env";
import { validationError } from "./lib/validation";
import { handleError, handleNotFound } from "./middleware/errors";
import { requestContext } from "./middleware/request-context";
import { agentRoutes } from "./routes/agent";
import { assetRoutes } from "./routes/assets";
import { authRoutes } from "./routes/auth";
import { deploymentRoutes } from "./routes/deployments";
import { executionRoutes } from "./routes/executions";
import { fileRoutes } from "./routes/files";
import { healthRoutes } from "./routes/health";
import { keyRoutes } from "./routes/keys";
import { machineRoutes } from "./routes/machines";
import { runPreviewRoutes } from "./routes/run-previews";
import { runRoutes } from "./routes/runs";
import { uploadRoutes } from "./routes/uploads";
import { workflowRoutes } from "./routes/workflows";

function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
  app.use("*", requestContext);
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
  ];
  for (const routes of routers) app.route("/api", routes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`ce_live_…`) or a user's access JWT from `/api/auth/login`.",
  });
  app.doc31("/api/doc", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "comfy-edge API",
      version: c.env.APP_VERSION,
      description: "Run ComfyUI workflows on GPU machines anywhere, through one global API.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/api/reference", Scalar({ url: "/api/doc", pageTitle: "comfy-edge API reference" }));
  // The dashboard is static assets under /app/ (wrangler.toml); these two paths reach the Worker.
  for (const path of ["/", "/app"]) app.get(path, (c) => c.redirect("/app/", 302));
  return app;
}

export const app = createApp();
