import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../lib/errors";
import { createRouter, errorResponses } from "../lib/openapi";
import { bearerToken } from "../middleware/auth";
import { dispatcher } from "../services/dispatcher-client";
import { authenticateMachine } from "../services/machines";

export const agentRoutes = createRouter();

agentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/agent/v1/connect",
    tags: ["Agent link"],
    security: [{ bearerAuth: [] }],
    summary: "The agent's WebSocket (protocol v1; see docs/agent-protocol.md)",
    description:
      "Upgrade to a WebSocket with a machine token (`ce_mach_…`). The socket joins the Dispatcher of the machine's pool.",
    responses: {
      101: { description: "Switching protocols" },
      426: {
        description: "Not a WebSocket upgrade",
        content: { "application/json": { schema: z.object({ error: z.string() }) } },
      },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const machine = await authenticateMachine(c.var.db, bearerToken(c.req.header("Authorization")));
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("bad_request", "This endpoint takes a WebSocket upgrade");
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set("X-Machine-Id", machine.id);
    headers.set("X-User-Id", machine.userId);
    headers.set("X-Public-Origin", new URL(c.req.url).origin);
    const forwarded = new Request(c.req.url, { headers });
    return dispatcher(c.env, machine.userId, machine.pool).fetch(forwarded) as unknown as Response;
  },
);
