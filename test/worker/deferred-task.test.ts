import { describe, expect, it } from "vitest";
import { DeferredTask } from "../../src/lib/deferred-task";

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("a deferred task", () => {
  it("runs once however often it is asked before it runs, and not at all once cancelled", async () => {
    let runs = 0;
    const task = new DeferredTask("test", 20, () => runs++);
    task.soon();
    task.soon();
    await until(() => runs === 1);
    task.soon();
    task.cancel();
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(1);
  });

  it("asks again for a task that threw", async () => {
    let tries = 0;
    const task = new DeferredTask("test", 10, () => {
      if (++tries === 1) throw new Error("storage busy");
    });
    task.soon();
    await until(() => tries === 2);
  });
});
