import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import type { RateLimiter } from "../../src/durable/rate-limiter";
import { dispatcherOf } from "../helpers/dispatcher";
import { createDeployment } from "../helpers/fixtures";
import { BASE } from "../helpers/http";
import { createUser } from "../helpers/users";

/** Calls the app with some settings overridden, as a deployment with those vars would run. */
async function call(path: string, overrides: Record<string, string>, init: RequestInit = {}) {
  const res = await app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const auth = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

/** Ends a limiter's current failure window, as if its 15 minutes had passed. */
async function endFailureWindow(key: string, windowSeconds: number) {
  await runInDurableObject(env.RATE_LIMITER.getByName(key), (instance: RateLimiter) => {
    const state = instance as unknown as { failures: { start: number } | null };
    if (state.failures) state.failures.start -= windowSeconds * 1000;
  });
}

describe("request rate limits", () => {
  it("report X-RateLimit-* on every response and answer 429 with Retry-After past the minute limit", async () => {
    const user = await createUser();
    const limits = { RATE_LIMIT_PER_MINUTE: "5", RATE_LIMIT_PER_HOUR: "100", RATE_LIMIT_PER_DAY: "1000" };
    const auth = { headers: { Authorization: `Bearer ${user.apiKey}` } };
    const first = await call("/api/runs", limits, auth);
    expect(first.status).toBe(200);
    expect(first.headers.get("X-RateLimit-Limit")).toBe("5");
    const used = 5 - Number(first.headers.get("X-RateLimit-Remaining"));
    const reset = Number(first.headers.get("X-RateLimit-Reset"));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
    for (let i = used; i < 5; i++) expect((await call("/api/runs", limits, auth)).status).toBe(200);

    const limited = await call("/api/runs", limits, auth);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({
      error: "rate_limit_exceeded",
      message: "Too many requests. Rate limit: 5 requests per minute.",
      request_id: expect.any(String),
    });
    expect(limited.headers.get("X-RateLimit-Remaining")).toBe("0");
    const retryAfter = Number(limited.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Limits are per principal: another user is unaffected.
    const other = await createUser();
    const theirs = await call("/api/runs", limits, { headers: { Authorization: `Bearer ${other.apiKey}` } });
    expect(theirs.status).toBe(200);
  });
});

describe("the queue routes count the request beside their reads", () => {
  const limits = { RATE_LIMIT_PER_MINUTE: "2", RATE_LIMIT_PER_HOUR: "100", RATE_LIMIT_PER_DAY: "1000" };
  const queue = (token: string, deploymentId: string, vars = limits) =>
    call("/api/run/deployment/queue", vars, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ deployment_id: deploymentId, inputs: {} }),
    });
  const runsOf = async (userId: string) =>
    (
      await env.DB.prepare("SELECT count(*) AS n FROM runs WHERE user_id = ?")
        .bind(userId)
        .first<{ n: number }>()
    )?.n;

  it("past the limit, queue nothing and answer 429, whatever else is wrong with the request", async () => {
    const user = await createUser();
    const other = await createUser();
    const deployment = await createDeployment(user);
    // Creating the deployment counted under the default limits; these calls count under 2 a minute.
    const used =
      2 - Number((await call("/api/runs", limits, auth(user.apiKey))).headers.get("X-RateLimit-Remaining"));
    for (let i = used; i < 2; i++)
      expect((await call("/api/runs", limits, auth(user.apiKey))).status).toBe(200);

    const limited = await queue(user.apiKey, deployment.id);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: "rate_limit_exceeded" });
    expect(limited.headers.get("X-RateLimit-Remaining")).toBe("0");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await queue(user.apiKey, "no-such-deployment")).status).toBe(429);
    expect(await runsOf(user.id)).toBe(0);
    expect(await dispatcherOf(user.id).stats()).toMatchObject({ queued: 0, leased: 0 });

    // Within its limit, the other tenant queues, and cannot reach this tenant's deployment.
    const theirs = await createDeployment(other);
    const roomier = { ...limits, RATE_LIMIT_PER_MINUTE: "50" };
    const queued = await queue(other.apiKey, theirs.id, roomier);
    expect(queued.status).toBe(200);
    expect(queued.headers.get("X-RateLimit-Limit")).toBe("50");
    expect((await queue(other.apiKey, deployment.id, roomier)).status).toBe(404);
    expect(await runsOf(other.id)).toBe(1);
  });
});

describe("login and registration throttling", () => {
  const policy = { AUTH_MAX_FAILURES: "3", AUTH_FAILURE_WINDOW_SECONDS: "900" };
  const login = (email: string, password: string, address: string) =>
    call("/api/auth/login", policy, {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
      body: JSON.stringify({ email, password }),
    });

  it("locks an account after repeated failures, then lets it in once the window passes", async () => {
    const user = await createUser();
    for (let i = 0; i < 3; i++)
      expect((await login(user.email, "wrong password", "203.0.113.7")).status).toBe(401);
    const locked = await login(user.email, user.password, "198.51.100.9");
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: "rate_limit_exceeded" });
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(890);

    await endFailureWindow(`auth:account:${user.email}`, 900);
    await endFailureWindow("auth:address:203.0.113.7", 900);
    const after = await login(user.email, user.password, "198.51.100.9");
    expect(after.status).toBe(200);
  });

  it("locks a client address that keeps failing, for every account, and registration too", async () => {
    const [a, b] = [await createUser(), await createUser()];
    const address = "192.0.2.44";
    for (const email of [a.email, a.email, b.email])
      expect((await login(email, "nope", address)).status).toBe(401);
    expect((await login(b.email, b.password, address)).status).toBe(429);
    const register = await call("/api/auth/register", policy, {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
      body: JSON.stringify({ email: "new@example.com", username: "newcomer", password: "long enough pw" }),
    });
    expect(register.status).toBe(429);
    // Another address is not locked out of b's account (b had one failure).
    expect((await login(b.email, b.password, "192.0.2.45")).status).toBe(200);
  });
});
