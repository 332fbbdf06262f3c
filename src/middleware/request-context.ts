import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import type { AppEnv } from "../env";
import { base64url, randomBytes } from "../lib/crypto";

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Gives every request an id (echoed in `X-Request-Id` and error bodies) and a database handle. */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("X-Request-Id");
  const requestId =
    incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : `req_${base64url(randomBytes(12))}`;
  c.set("requestId", requestId);
  c.set("db", createDb(c.env.DB));
  c.header("X-Request-Id", requestId);
  await next();
  c.header("X-Request-Id", requestId);
});
