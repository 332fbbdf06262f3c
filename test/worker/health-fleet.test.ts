import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

type Service = { name: string; status: string; error: string | null };
type Detailed = {
  status: string;
  uptime_seconds: number;
  services: Service[];
  system: Record<string, unknown>;
};

describe("health for the fleet", () => {
  it("reports uptime since the isolate's first request, not since 1970", async () => {
    const res = await api<{ uptime_seconds: number }>("/health");
    expect(res.body.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(res.body.uptime_seconds).toBeLessThan(24 * 3600);
  });

  it("answers /api/health with seed 004's and seed 003's fields in one body", async () => {
    const res = await api<Record<string, unknown>>("/api/health");
    expect(res.body).toMatchObject({ status: "healthy", code: 200, data: { status: "ok" } });
  });

  it("adds the caller's comfyui service and machine load with credentials", async () => {
    const user = await createUser();
    const empty = await api<Detailed>("/health/detailed", { token: user.apiKey });
    expect(empty.status).toBe(200);
    expect(empty.body.status).toBe("degraded");
    expect(empty.body.services.find((s) => s.name === "comfyui")).toMatchObject({
      status: "unhealthy",
      error: expect.stringMatching(/No ComfyUI instance/),
    });
    const agent = await TestAgent.connect((await createMachine(user)).token);
    agent.heartbeat([], { system: { cpu_percent: 12, memory_used_mb: 1, memory_total_mb: 4 } });
    await expect
      .poll(async () => (await api<Detailed>("/health/detailed/", { token: user.apiKey })).body.system)
      .toMatchObject({ cpu_usage_percent: 12, memory_usage_percent: 25, gpu_usage_percent: null });
    const live = await api<Detailed>("/health/detailed/", { token: user.apiKey });
    expect(live.body.services.find((s) => s.name === "comfyui")?.status).toBe("healthy");
    expect(live.body.status).toBe("healthy");

    const anonymous = await api<Detailed>("/health/detailed");
    expect(anonymous.body.services.map((s) => s.name)).not.toContain("comfyui");
    expect(anonymous.body.system).toMatchObject({ cpu_usage_percent: null });
    expect((await api("/health/detailed", { token: "ce_live_forged" })).status).toBe(401);
    agent.close();
  });
});
