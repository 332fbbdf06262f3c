import { describe, expect, it } from "vitest";
import { parseEvent } from "../../src/comfy/events";
import type { PromptGraph } from "../../src/comfy/http";
import { ProgressTracker } from "../../src/comfy/progress";
import { PromptEvents } from "../../src/comfy/prompt-events";
import { loadTrace } from "../sim/helpers/traces";

/** Feeds a trace's recorded messages through the prompt follower, with a snapshot after each one. */
function replay(number: string) {
  const trace = loadTrace(number);
  const tracker = new ProgressTracker(trace.prompt_request.prompt as PromptGraph);
  const events = new PromptEvents(trace.prompt_id, tracker);
  const snapshots = trace.ws_messages.flatMap((message) => {
    const event = message.kind === "text" ? parseEvent(JSON.stringify(message.json)) : undefined;
    return event && events.apply(event) ? [{ type: event.type, progress: tracker.snapshot() }] : [];
  });
  return { events, snapshots, tracker };
}

describe("progress of a run (trace 11: EmptyImage, a 4-step node, PreviewImage)", () => {
  const { events, snapshots, tracker } = replay("11");

  it("counts finished nodes plus the running node's steps", () => {
    const steps = snapshots.filter((s) => s.type === "progress").map((s) => s.progress);
    expect(
      steps.map((p) => [p.percentage, p.step, p.total_steps, p.current_node, p.current_node_type]),
    ).toEqual([
      [41.7, 1, 4, "2", "CRTestProgressPreview"],
      [50, 2, 4, "2", "CRTestProgressPreview"],
      [58.3, 3, 4, "2", "CRTestProgressPreview"],
      [66.7, 4, 4, "2", "CRTestProgressPreview"],
    ]);
  });

  it("never goes backwards and ends complete", () => {
    const percentages = snapshots.map((s) => s.progress.percentage);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(events.ending).toEqual({ kind: "success" });
    expect(events.finished).toBe(true);
    expect(tracker.complete()).toMatchObject({
      percentage: 100,
      nodes_done: 3,
      nodes_total: 3,
      current_node: null,
    });
  });
});

describe("progress of a cached run (trace 03)", () => {
  it("counts cached nodes as done", () => {
    const { events, snapshots } = replay("03");
    expect(events.cachedNodes).toEqual(["1", "2", "3", "4", "5"]);
    expect(snapshots.at(-1)?.progress).toMatchObject({ percentage: 100, nodes_done: 5, eta_seconds: null });
  });
});

describe("progress of a failed run (trace 08)", () => {
  it("records the node's error as the ending", () => {
    const { events } = replay("08");
    expect(events.ending).toMatchObject({
      kind: "execution_error",
      failure: { node_id: "1", node_type: "LoadImage", exception_type: "PIL.UnidentifiedImageError" },
    });
  });
});

describe("ProgressTracker.changed", () => {
  it("says whether a snapshot would show something new: a repeated node state does not", () => {
    const tracker = new ProgressTracker({
      "1": { class_type: "X", inputs: {} },
      "2": { class_type: "KSampler", inputs: {} },
      "3": { class_type: "X", inputs: {} },
    });
    tracker.executing("1");
    expect(tracker.changed).toBe(true);
    tracker.snapshot();
    expect(tracker.changed).toBe(false);
    tracker.progress("2", 1, 4);
    expect(tracker.changed).toBe(true);
    const first = tracker.snapshot();
    // Node 1 is done already (node 2 started): saying so again is no news, nor is a step without a max.
    tracker.nodeStates({ "1": { state: "finished" }, "2": { state: "running" } });
    tracker.progress("2", 2, 0);
    expect(tracker.changed).toBe(false);
    tracker.nodeStates({ "3": { state: "finished" } });
    expect(tracker.changed).toBe(true);
    expect(tracker.snapshot().nodes_done).toBe(first.nodes_done + 1);
    tracker.progress("2", 2, 4);
    expect(tracker.changed).toBe(true);
    expect(tracker.snapshot()).toMatchObject({ current_node: "2", step: 2, total_steps: 4 });
  });
});

describe("ETA", () => {
  const graph = (ids: string[]): PromptGraph =>
    Object.fromEntries(ids.map((id) => [id, { class_type: "X", inputs: {} }]));

  it("times the running node's steps by its step pace and the nodes to come by the plain nodes that ran", () => {
    let now = 0;
    const tracker = new ProgressTracker(graph(["1", "2", "3", "4", "5"]), () => now);
    tracker.start();
    tracker.cached(["1"]);
    tracker.executing("2");
    now = 5_000;
    tracker.executing("3");
    now = 7_000;
    tracker.progress("3", 1, 3);
    // Node 3: 2 s a step, 2 steps left = 4 s; nodes 4 and 5 at node 2's 5 s each = 10 s.
    expect(tracker.snapshot()).toMatchObject({ nodes_done: 2, step: 1, total_steps: 3, eta_seconds: 14 });
  });

  it("does not grow while a many-step node samples at a steady speed", () => {
    let now = 0;
    const tracker = new ProgressTracker(graph(["load", "clip", "sample", "decode", "save"]), () => now);
    tracker.executing("load");
    now = 300;
    tracker.executing("clip");
    now = 400;
    tracker.executing("sample");
    now = 1_400; // a second of set-up before the first step
    const etas: number[] = [];
    for (let step = 1; step <= 50; step++) {
      now += 100;
      tracker.progress("sample", step, 50);
      etas.push(tracker.snapshot().eta_seconds!);
    }
    expect(etas.slice(7, 42)).toEqual([...etas.slice(7, 42)].sort((a, b) => b - a));
    expect(etas.at(-1)).toBeLessThan(etas[7]!);
    expect(etas.at(-1)).toBeCloseTo(0.4, 1); // decode and save at the plain nodes' 0.2 s each
  });

  it("has no estimate before anything ran", () => {
    const tracker = new ProgressTracker(graph(["1", "2"]), () => 0);
    tracker.executing("1");
    expect(tracker.snapshot().eta_seconds).toBeNull();
  });
});
