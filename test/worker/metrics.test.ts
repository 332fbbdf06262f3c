import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { fetchWorker } from "../helpers/files";
import { api } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const GPU = {
  index: 0,
  name: "NVIDIA L4",
  memory_total_mb: 1000,
  memory_used_mb: 250,
  utilization_percent: 80,
};
const LOAD = {
  cpu_percent: 40,
  memory_used_mb: 500,
  memory_total_mb: 1000,
  disk_used_gb: 30,
  disk_total_gb: 120,
};

/** A tenant with one agent reporting load, one finished run and one waiting. */
async function fleetWithHistory() {
  const user = await createUser("metrics");
  const agent = await TestAgent.connect((await createMachine(user)).token);
  agent.heartbeat([], { gpus: [GPU], system: LOAD });
  const done = await executeRun(user);
  const job = await agent.job(done);
  await agent.report(job, { kind: "started" });
  await agent.report(job, { kind: "succeeded", outputs: [] });
  const running = await executeRun(user);
  await agent.report(await agent.job(running), { kind: "started" });
  const waiting = await executeRun(user);
  return { user, agent, waiting };
}

type Metrics = Record<string, number | null>;

describe("GET /metrics", () => {
  it("reports seed 004's figures for the caller's fleet", async () => {
    const { user, agent } = await fleetWithHistory();
    await expect
      .poll(async () => (await api<Metrics>("/metrics/", { token: user.apiKey })).body.cpu_usage_percent)
      .toBe(40);
    const res = await api<Metrics>("/metrics/", { token: user.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      cpu_usage_percent: 40,
      memory_usage_percent: 50,
      gpu_usage_percent: 80,
      gpu_memory_usage_percent: 25,
      disk_usage_percent: 25,
      active_executions: 1,
      queue_size: 1,
      total_executions: 3,
      average_execution_time_seconds: expect.any(Number),
    });
    expect((await api<Metrics>("/api/metrics", { token: user.apiKey })).body.total_executions).toBe(3);
    agent.close();
  });

  it("serves the same figures in Prometheus' text format, parsed by a real parser", async () => {
    const { user, agent } = await fleetWithHistory();
    await expect
      .poll(async () => (await api<Metrics>("/metrics", { token: user.apiKey })).body.cpu_usage_percent)
      .toBe(40);
    const json = (await api<Metrics>("/metrics", { token: user.apiKey })).body;
    for (const request of [
      fetchWorker("/metrics?format=prometheus", { token: user.apiKey }),
      fetchWorker("/metrics/", {
        token: user.apiKey,
        headers: {
          Accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        },
      }),
    ]) {
      const res = await request;
      expect(res.headers.get("Content-Type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusTextFormat(await res.text());
      const value = (name: string) => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
      expect(value("comfy_edge_cpu_usage_percent")).toBe(json.cpu_usage_percent);
      expect(value("comfy_edge_gpu_usage_percent")).toBe(json.gpu_usage_percent);
      expect(value("comfy_edge_queue_size")).toBe(json.queue_size);
      expect(value("comfy_edge_active_executions")).toBe(json.active_executions);
      expect(value("comfy_edge_average_execution_time_seconds")).toBe(json.average_execution_time_seconds);
      const totals = families.find((f) => f.name === "comfy_edge_executions_total");
      expect(totals?.type).toBe("COUNTER");
      expect(totals?.metrics).toEqual(
        expect.arrayContaining([
          { value: "1", labels: { status: "success" } },
          { value: "1", labels: { status: "running" } },
          { value: "1", labels: { status: "not-started" } },
        ]),
      );
    }
    agent.close();
  });

  it("is per tenant, needs credentials and refuses an unknown format", async () => {
    const { agent } = await fleetWithHistory();
    const other = await createUser();
    const res = await api<Metrics>("/metrics", { token: other.apiKey });
    expect(res.body).toMatchObject({ cpu_usage_percent: null, total_executions: 0, queue_size: 0 });
    const text = await (await fetchWorker("/metrics?format=prometheus", { token: other.apiKey })).text();
    expect(parsePrometheusTextFormat(text).map((f) => f.name)).not.toContain("comfy_edge_cpu_usage_percent");
    expect((await api("/metrics")).status).toBe(401);
    expect((await api("/metrics?format=xml", { token: other.apiKey })).status).toBe(400);
    agent.close();
  });
});
