import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE } from "../helpers/http";

const get = (path: string) => exports.default.fetch(`${BASE}${path}`, { redirect: "manual" });

describe("dashboard entry points", () => {
  it("redirects the site root and /app to the dashboard at /app/", async () => {
    for (const path of ["/", "/app"]) {
      const res = await get(path);
      expect(res.status).toBe(302);
      expect(new URL(res.headers.get("Location")!, BASE).pathname).toBe("/app/");
    }
  });

  it("leaves API paths and unknown paths to the API", async () => {
    expect((await api("/api/health")).status).toBe(200);
    const missing = await api<{ error: string }>("/nowhere");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBeDefined();
  });
});
