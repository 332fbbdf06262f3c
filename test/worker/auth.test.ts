import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

describe("register", () => {
  it("creates a user and never returns the password hash", async () => {
    const res = await api<Record<string, unknown>>("/api/auth/register", {
      method: "POST",
      json: { email: "Grace@Example.com", username: "grace", password: "a long password" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: "grace@example.com",
      username: "grace",
      role: "user",
      is_active: true,
    });
    expect(JSON.stringify(res.body)).not.toContain("pbkdf2");
  });

  it("refuses a duplicate email with 409", async () => {
    const user = await createUser();
    const res = await api("/api/auth/register", {
      method: "POST",
      json: { email: user.email, username: "someoneelse", password: "a long password" },
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: "conflict" });
  });

  it("gives one detail per bad field", async () => {
    const res = await api<{ error: string; details: { field: string; code: string }[] }>(
      "/api/auth/register",
      {
        method: "POST",
        json: { email: "not-an-email", username: 42 },
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("validation_error");
    const fields = res.body.details.map((d) => d.field).sort();
    expect(fields).toEqual(["email", "password", "username"]);
    expect(res.body.details.find((d) => d.field === "password")?.code).toBe("REQUIRED_FIELD");
  });

  it("answers malformed JSON with a 400 envelope", async () => {
    const res = await api("/api/auth/register", {
      method: "POST",
      body: "{not json",
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "bad_request", message: "Malformed JSON in request body" });
  });

  it("refuses a 3 MB body with 413", async () => {
    const res = await api("/api/auth/register", {
      method: "POST",
      json: { email: "big@example.com", username: "big", password: "x".repeat(3 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: "payload_too_large" });
  });
});

describe("login", () => {
  it("accepts an email or a username", async () => {
    const user = await createUser();
    const byEmail = await api("/api/auth/login", {
      method: "POST",
      json: { email: user.email, password: user.password },
    });
    const byName = await api("/api/auth/login", {
      method: "POST",
      json: { username: user.username, password: user.password },
    });
    expect(byEmail.status).toBe(200);
    expect(byName.status).toBe(200);
    expect(byName.body).toMatchObject({ token_type: "bearer", expires_in: 1800 });
    // Seed 003 logs in at the same path: its `{code, data: {token, user}}` is in the same body.
    expect(byEmail.body).toMatchObject({
      code: 200,
      data: { token: byEmail.body.access_token, user: { username: user.username } },
    });
  });

  it("refuses a wrong password and an unknown user alike", async () => {
    const user = await createUser();
    const wrong = await api("/api/auth/login", {
      method: "POST",
      json: { email: user.email, password: "nope nope" },
    });
    const unknown = await api("/api/auth/login", {
      method: "POST",
      json: { email: "ghost@example.com", password: "nope nope" },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toMatchObject({ message: "Invalid credentials" });
  });

  it("needs an email or a username", async () => {
    const res = await api("/api/auth/login", { method: "POST", json: { password: "whatever" } });
    expect(res.status).toBe(400);
  });
});

describe("me and tokens", () => {
  it("returns the current user with an access token or an API key", async () => {
    const user = await createUser();
    const viaJwt = await api<{ id: string }>("/api/auth/me", { token: user.access });
    const viaKey = await api<{ id: string }>("/api/auth/me", { token: user.apiKey });
    expect(viaJwt.body.id).toBe(user.id);
    expect(viaKey.body.id).toBe(user.id);
  });

  it("refuses no token, a malformed header, a forged token and an expired token", async () => {
    const user = await createUser();
    expect((await api("/api/auth/me")).status).toBe(401);
    const malformed = await api("/api/auth/me", { headers: { Authorization: "Token abc" } });
    expect(malformed.status).toBe(401);
    const [header, payload] = user.access.split(".");
    expect((await api("/api/auth/me", { token: `${header}.${payload}.forged` })).status).toBe(401);
    const expired = await expiredToken(user.access);
    const res = await api("/api/auth/me", { token: expired });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: "Access token has expired" });
  });

  it("refuses a machine token on client routes", async () => {
    const res = await api("/api/auth/me", { token: "ce_mach_abcdef" });
    expect(res.status).toBe(403);
  });
});

describe("refresh and logout", () => {
  it("rotates refresh tokens, and a reused one revokes the whole family", async () => {
    const user = await createUser();
    const first = await api<{ refresh_token: string; access_token: string }>("/api/auth/refresh", {
      method: "POST",
      json: { refresh_token: user.refresh },
    });
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).not.toBe(user.refresh);

    const reuse = await api("/api/auth/refresh", { method: "POST", json: { refresh_token: user.refresh } });
    expect(reuse.status).toBe(401);
    // The family is gone: the rotated token and its access token no longer work.
    const after = await api("/api/auth/refresh", {
      method: "POST",
      json: { refresh_token: first.body.refresh_token },
    });
    expect(after.status).toBe(401);
    expect((await api("/api/auth/me", { token: first.body.access_token })).status).toBe(401);
  });

  it("logout makes the access token unusable at once", async () => {
    const user = await createUser();
    const res = await api("/api/auth/logout", { method: "POST", token: user.access });
    expect(res.status).toBe(200);
    expect((await api("/api/auth/me", { token: user.access })).status).toBe(401);
    const refreshed = await api("/api/auth/refresh", {
      method: "POST",
      json: { refresh_token: user.refresh },
    });
    expect(refreshed.status).toBe(401);
    // API keys are independent of sessions.
    expect((await api("/api/auth/me", { token: user.apiKey })).status).toBe(200);
  });

  it("refuses an unknown refresh token", async () => {
    const res = await api("/api/auth/refresh", { method: "POST", json: { refresh_token: "ce_rt_unknown" } });
    expect(res.status).toBe(401);
  });
});

/** Re-signs the token's claims with an expiry in the past, using the test secret. */
async function expiredToken(access: string): Promise<string> {
  const { sign } = await import("hono/jwt");
  const { env } = await import("cloudflare:workers");
  const payload = JSON.parse(atob(access.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
  return sign({ ...payload, exp: Math.floor(Date.now() / 1000) - 10 }, env.JWT_SECRET, "HS256");
}
