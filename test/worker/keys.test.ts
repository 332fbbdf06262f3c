import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { API_KEY_STALE_MS } from "../../src/services/auth";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

describe("API keys", () => {
  afterEach(() => vi.restoreAllMocks());

  it("shows the plaintext once and lists keys without it", async () => {
    const user = await createUser();
    const created = await api<{ id: string; key: string; prefix: string }>("/api/keys", {
      method: "POST",
      token: user.access,
      json: { name: "ci" },
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^ce_live_/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);

    const list = await api<{ id: string; name: string }[]>("/api/keys", { token: user.access });
    expect(list.status).toBe(200);
    expect(list.body.map((k) => k.name).sort()).toEqual(["ci", "test"]);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
  });

  it("records last use", async () => {
    const user = await createUser();
    await api("/api/auth/me", { token: user.apiKey });
    const list = await api<{ last_used_at: string | null }[]>("/api/keys", { token: user.access });
    expect(list.body[0]?.last_used_at).not.toBeNull();
  });

  it("a revoked key stops working at once", async () => {
    const user = await createUser();
    const [key] = (await api<{ id: string }[]>("/api/keys", { token: user.access })).body;
    const del = await api(`/api/keys/${key!.id}`, { method: "DELETE", token: user.access });
    expect(del.status).toBe(200);
    const res = await api("/api/auth/me", { token: user.apiKey });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: "Invalid or revoked API key" });
  });

  it("a key revoked elsewhere (another isolate's write) stops within the written bound", async () => {
    const user = await createUser();
    expect((await api("/api/auth/me", { token: user.apiKey })).status).toBe(200);
    const revokedAt = new Date().toISOString();
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE user_id = ?")
      .bind(revokedAt, user.id)
      .run();
    // This isolate resolved the key a moment ago: it may keep it for the bound, and no longer.
    const now = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => now + API_KEY_STALE_MS);
    const res = await api("/api/auth/me", { token: user.apiKey });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: "Invalid or revoked API key" });
  });

  it("another user's key id is a 404 and stays usable", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const [aliceKey] = (await api<{ id: string }[]>("/api/keys", { token: alice.access })).body;
    const res = await api(`/api/keys/${aliceKey!.id}`, { method: "DELETE", token: bob.access });
    expect(res.status).toBe(404);
    expect((await api("/api/auth/me", { token: alice.apiKey })).status).toBe(200);
    const bobList = await api<{ id: string }[]>("/api/keys", { token: bob.access });
    expect(bobList.body.map((k) => k.id)).not.toContain(aliceKey!.id);
  });

  it("validates the name and needs auth", async () => {
    const user = await createUser();
    const bad = await api("/api/keys", { method: "POST", token: user.access, json: { name: "" } });
    expect(bad.status).toBe(400);
    expect((await api("/api/keys")).status).toBe(401);
    expect((await api("/api/keys", { method: "POST", json: { name: "x" } })).status).toBe(401);
  });
});
