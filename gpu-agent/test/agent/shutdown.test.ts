import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log";
import { SHUTDOWN_REASON, shutdown } from "../../src/shutdown";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

const closeCode = () => new Promise<number>((resolve) => h.mock.socket?.once("close", resolve));

/**
 * A job held mid-node when shutdown starts with `graceMs`; resolves once the agent says it is draining.
 * `closed` gives the socket's close code, `stopping` the shutdown's end.
 */
async function shutdownDuringJob(graceMs: number) {
  h = await startHarness();
  const hold = h.sim.holdNode("CRTestProgressPreview");
  const job = jobMessage(imageGraph());
  h.mock.send(job);
  await hold.reached();
  const closed = closeCode();
  const stopping = shutdown(h.agent, { graceMs, flushTimeoutMs: 2000, log: silentLogger });
  await h.mock.until(
    () => h.mock.all("heartbeat").some((beat) => beat.draining === true),
    "draining heartbeat",
  );
  return { hold, job, closed, stopping };
}

describe("shutdown", () => {
  it("drains: takes no new job, hands back what outlives the grace period, flushes, closes with 1000", async () => {
    const { hold, job, closed, stopping } = await shutdownDuringJob(300);
    const late = jobMessage(imageGraph());
    h.mock.send(late);
    const refused = await h.mock.untilReport(late.run_id, "released");
    expect(refused.report).toEqual({ kind: "released", reason: SHUTDOWN_REASON });

    const released = await h.mock.untilReport(job.run_id, "released");
    expect(released.report).toEqual({ kind: "released", reason: SHUTDOWN_REASON });
    await h.mock.until(() => h.sim.counters.interrupts === 1, "the prompt to be interrupted");
    hold.release();
    await stopping;

    expect(await closed).toBe(1000);
    expect(h.agent.unackedReports).toEqual([]);
    expect(await h.agent.exited).toEqual({ code: 0, message: "shut down" });
    expect(h.mock.reportKinds(job.run_id)).not.toContain("succeeded");
  });

  it("lets a job that finishes within the grace period succeed", async () => {
    const { hold, job, closed, stopping } = await shutdownDuringJob(5000);
    hold.release();
    await stopping;

    expect(await closed).toBe(1000);
    expect(h.mock.reportKinds(job.run_id).at(-1)).toBe("succeeded");
    expect(h.mock.reportKinds(job.run_id)).not.toContain("released");
    expect(h.sim.counters.interrupts).toBe(0);
  });

  it("does not wait forever for acks the control plane never sends", async () => {
    h = await startHarness({ mock: { ack: () => null } });
    const started = Date.now();
    h.mock.send(jobMessage(imageGraph()));
    await h.mock.until(() => h.agent.unackedReports.length > 0, "an unacked report");
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the job to end");
    await shutdown(h.agent, { graceMs: 1000, flushTimeoutMs: 200, log: silentLogger });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(h.agent.unackedReports.length).toBeGreaterThan(0);
  });
});
