import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../lib/errors";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { requireUser } from "../middleware/auth";
import { KiB, limitBody } from "../middleware/body-limit";
import { authThrottle } from "../middleware/rate-limit";
import { currentUser, login, logout, publicUser, refresh, registerUser } from "../services/auth";

const UserSchema = z
  .object({
    id: z.string().openapi({ example: "0b8a4c3e-6f0e-4a53-9d1c-2a6f4f1c9e11" }),
    email: z.string().openapi({ example: "ada@example.com" }),
    username: z.string().openapi({ example: "ada" }),
    role: z.enum(["user", "admin"]).openapi({ example: "user" }),
    is_active: z.boolean().openapi({ example: true }),
    created_at: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    updated_at: z.string().nullable().openapi({ example: null }),
  })
  .openapi("User");

const TokenPairSchema = z
  .object({
    access_token: z.string().openapi({ example: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…" }),
    refresh_token: z.string().openapi({ example: "ce_rt_Q2hhbmdlIG1lIG5vdw…" }),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ example: 1800 }),
  })
  .openapi("TokenPair");

/** Seed 004's token pair with seed 003's `{code, data: {token, user}}` beside it (both log in here). */
const LoginReplySchema = TokenPairSchema.extend({
  code: z.literal(200),
  data: z.object({ token: z.string(), user: z.object({ username: z.string() }) }),
}).openapi("LoginReply");

const RegisterSchema = z
  .object({
    email: z.email().max(254).openapi({ example: "ada@example.com" }),
    username: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{3,32}$/, "3-32 letters, digits, '_', '.' or '-'")
      .openapi({ example: "ada" }),
    password: z.string().min(8).max(256).openapi({ example: "correct horse battery" }),
  })
  .openapi("RegisterRequest");

const LoginSchema = z
  .object({
    email: z.string().max(254).optional().openapi({ example: "ada@example.com" }),
    username: z.string().max(64).optional().openapi({ example: "ada" }),
    password: z.string().min(1).max(256).openapi({ example: "correct horse battery" }),
  })
  .refine((v) => v.email || v.username, { message: "Give an email or a username", path: ["email"] })
  .openapi("LoginRequest");

const RefreshSchema = z.object({ refresh_token: z.string().min(1).max(512) }).openapi("RefreshRequest");

const tags = ["Auth"];
const security = [{ bearerAuth: [] }];

export const authRoutes = createRouter();
authRoutes.use("/auth/*", limitBody(16 * KiB));
authRoutes.use("/auth/login", authThrottle);
authRoutes.use("/auth/register", authThrottle);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/register",
    tags,
    summary: "Create a user account",
    request: { body: jsonBody(RegisterSchema) },
    responses: { 201: jsonContent(UserSchema, "The new user"), ...errorResponses(400, 409, 413) },
  }),
  async (c) => {
    const user = await registerUser(c.var.db, c.req.valid("json"));
    return c.json(publicUser(user), 201);
  },
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/login",
    tags,
    summary: "Log in with an email or a username",
    request: { body: jsonBody(LoginSchema) },
    responses: {
      200: jsonContent(LoginReplySchema, "A fresh token pair"),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { username, ...pair } = await login(c.var.db, c.env, (body.email ?? body.username)!, body.password);
    return c.json(
      { ...pair, code: 200 as const, data: { token: pair.access_token, user: { username } } },
      200,
    );
  },
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/refresh",
    tags,
    summary: "Rotate a refresh token",
    description: "Each refresh token works once. Presenting a used one revokes the whole session.",
    request: { body: jsonBody(RefreshSchema) },
    responses: { 200: jsonContent(TokenPairSchema, "A new token pair"), ...errorResponses(400, 401, 413) },
  }),
  async (c) => c.json(await refresh(c.var.db, c.env, c.req.valid("json").refresh_token), 200),
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/logout",
    tags,
    security,
    summary: "End the current session",
    description: "The access token and every refresh token of its session stop working at once.",
    middleware: [requireUser] as const,
    responses: {
      200: jsonContent(z.object({ message: z.string() }), "Logged out"),
      ...errorResponses(400, 401),
    },
  }),
  async (c) => {
    const { sessionId } = c.var.principal;
    if (!sessionId)
      throw new AppError("bad_request", "Logout needs a user session; API keys are revoked instead");
    await logout(c.var.db, sessionId);
    return c.json({ message: "Successfully logged out" }, 200);
  },
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/auth/me",
    tags,
    security,
    summary: "The current user",
    middleware: [requireUser] as const,
    responses: { 200: jsonContent(UserSchema, "The current user"), ...errorResponses(401) },
  }),
  async (c) => {
    return c.json(publicUser(await currentUser(c.var.db, c.var.principal.userId)), 200);
  },
);
