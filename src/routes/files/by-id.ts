import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { errorResponses, jsonContent } from "../../lib/openapi";
import { requireUser, userContext } from "../../middleware/auth";
import { IdParam } from "./schemas";

export const DeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

type ByIdRoute<M, S> = {
  method: M;
  path: string;
  tags: string[];
  summary: string;
  description?: string;
  /** The 200 answer and its description. */
  schema: S;
  answer: string;
  /** The documented error statuses; by default those of a plain owned read. */
  errors?: number[];
};

type UserContext = ReturnType<typeof userContext>;

/** A route on one of the caller's files or assets, named by id alone, with no body: reads, confirms, deletes. */
function byIdRoute<M extends "get" | "post" | "delete", S extends z.ZodType>(route: ByIdRoute<M, S>) {
  return createRoute({
    method: route.method,
    path: route.path,
    tags: route.tags,
    security: [{ bearerAuth: [] }],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    middleware: [requireUser],
    request: { params: IdParam },
    responses: {
      200: jsonContent(route.schema, route.answer),
      ...errorResponses(...(route.errors ?? [401, 403, 404])),
    },
  });
}

/** Serves `route` with what `respond` makes, given the caller and the id in the path. */
export function serveById<M extends "get" | "post" | "delete", S extends z.ZodType>(
  router: OpenAPIHono<AppEnv>,
  route: ByIdRoute<M, S>,
  respond: (ctx: UserContext, id: string) => Promise<z.infer<S>>,
) {
  router.openapi(byIdRoute(route), async (c) =>
    c.json(await respond(userContext(c), c.req.valid("param").id), 200),
  );
}
