import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses } from "../../lib/openapi";
import { requireUserOrQueryToken } from "../../middleware/auth";
import { readPreview } from "../../services/run-previews";
import { RunId } from "./schemas";

const RunParam = z.object({ run_id: RunId.openapi({ param: { name: "run_id", in: "path" } }) });

export const runPreviewRoutes = createRouter();

runPreviewRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run/{run_id}/preview",
    tags: ["Runs"],
    security: [{ bearerAuth: [] }],
    summary: "The latest live preview of a run",
    description:
      "The newest image the sampler previewed (ComfyUI's preview frames, relayed by the agent at most twice a second). Subscribers of `/ws` and `/events` get a `preview` event each time it changes. Previews are not outputs: only the latest is kept, and they never count against the storage quota. 404 until the first one arrives.",
    middleware: [requireUserOrQueryToken] as const,
    request: {
      params: RunParam,
      query: z.object({
        token: z.string().optional().openapi({ description: "A credential, for <img src>" }),
      }),
    },
    responses: {
      200: {
        description: "The image",
        content: {
          "image/jpeg": { schema: z.string().openapi({ format: "binary" }) },
          "image/png": { schema: z.string().openapi({ format: "binary" }) },
          "image/webp": { schema: z.string().openapi({ format: "binary" }) },
        },
      },
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const preview = await readPreview(c.env, c.var.db, c.var.principal.userId, c.req.valid("param").run_id);
    return c.body(preview.bytes, 200, {
      "Content-Type": preview.contentType,
      "Cache-Control": "no-store",
      "X-Preview-At": preview.at,
      ...(preview.nodeId ? { "X-Preview-Node": preview.nodeId } : {}),
    });
  },
);
