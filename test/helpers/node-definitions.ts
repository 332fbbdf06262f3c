import { expect } from "vitest";
import objectInfo from "../../fixtures/comfyui-traces/object_info_full.json";
import { createMachine } from "./runs";
import { sha256Hex, TestAgent } from "./test-agent";
import type { TestUser } from "./users";

export { sha256Hex };

/** Waits for a condition the server reaches asynchronously (the definitions being stored). */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A machine whose agent reports the recorded node definitions, sent once the server asks for them. Each
 * call adds one class of its own, so its hash is new to the server (sets are shared by hash).
 */
export async function reportDefinitions(user: TestUser, pool?: string) {
  const machine = await createMachine(user, pool);
  const { agent } = await TestAgent.open(machine.token);
  if (!agent) throw new Error("no agent socket");
  const marker = `TestMarker${crypto.randomUUID().replaceAll("-", "")}`;
  const set = { ...objectInfo, [marker]: { input: {}, output: [] } };
  const definitions = JSON.stringify(set);
  const hash = await sha256Hex(definitions);
  const hello = (a: TestAgent) =>
    a.send({
      type: "hello",
      protocol: 1,
      agent: { version: "test" },
      instances: [
        { id: "comfy-0", comfy_url: "http://127.0.0.1:8188", available: true, object_info_hash: hash },
      ],
    });
  hello(agent);
  await agent.next("welcome");
  const request = await agent.next("object_info_request");
  expect(request).toEqual({ type: "object_info_request", instance_id: "comfy-0", hash });
  agent.send({ type: "object_info", instance_id: "comfy-0", hash, definitions: set });
  return { agent, machine, hash, hello };
}
