import { createRoute } from "@hono/zod-openapi";
import { createRouter, errorResponses } from "../../lib/openapi";
import { bearerToken } from "../../middleware/auth";
import { connectAgent } from "../../services/machines";

export const agentRoutes = createRouter();

agentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/agent/v1/connect",
    tags: ["Agent link"],
    security: [{ bearerAuth: [] }],
    summary: "The agent's WebSocket (protocol v1; see docs/agent-protocol.md)",
    description:
      "Upgrade to a WebSocket with a machine token (`ce_mach_…`). The socket joins the Dispatcher of the machine's pool. A request without the upgrade gets 426.",
    responses: {
      101: { description: "Switching protocols" },
      ...errorResponses(401, 403, 426),
    },
  }),
  (c) => connectAgent(c.env, c.var.db, bearerToken(c.req.header("Authorization")), c.req.raw),
);
