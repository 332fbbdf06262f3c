import { describe, expect, it } from "vitest";
import { PNG_BYTES, readyFile } from "../helpers/files";
import { createDeployment, externalGraph } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const queue = (token: string, json: unknown) =>
  api<Record<string, unknown>>("/api/run/deployment/queue", { method: "POST", token, json });

describe("runs of a deployment", () => {
  it("checks inputs against the input spec and sends the bindings to the agent", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const deployment = await createDeployment(user, { graph: externalGraph });
    const res = await queue(user.apiKey, {
      deployment_id: deployment.id,
      inputs: { input_image: "https://example.com/cat.png", seed: "7" },
    });
    expect(res.status).toBe(200);
    const job = await agent.job(res.body.run_id as string);
    // Resolved once, here: scalars with their defaults, file inputs as what the agent fetches.
    expect(job.inputs).toEqual({ prefix: "invert", seed: 7 });
    expect(job.input_urls).toEqual({ input_image: "https://example.com/cat.png" });
    expect(job.bindings.map((b) => [b.input_id, b.binding])).toEqual(
      expect.arrayContaining([
        ["input_image", "external_node"],
        ["prefix", "external_node"],
        ["seed", "external_node"],
      ]),
    );
    agent.close();
  });

  it("sends a file id as a signed URL, and refuses another tenant's file", async () => {
    const user = await createUser();
    const other = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const deployment = await createDeployment(user, { graph: externalGraph });
    const own = await readyFile(user.apiKey, PNG_BYTES, "image/png", "cat.png");
    const res = await queue(user.apiKey, {
      deployment_id: deployment.id,
      inputs: { input_image: own.file_id },
    });
    expect(res.status).toBe(200);
    const job = await agent.job(res.body.run_id as string);
    expect(job.input_urls.input_image).toMatch(
      new RegExp(`/api/files/${own.file_id}/content\\?expires=\\d+&sig=`),
    );
    expect(job.inputs).not.toHaveProperty("input_image");
    const theirs = await readyFile(other.apiKey, PNG_BYTES, "image/png", "cat.png");
    const refused = await queue(user.apiKey, {
      deployment_id: deployment.id,
      inputs: { input_image: theirs.file_id },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.details).toEqual([expect.objectContaining({ field: "inputs.input_image" })]);
    agent.close();
  });

  it("names each bad input: unknown, wrong type and missing", async () => {
    const user = await createUser();
    const deployment = await createDeployment(user, { graph: externalGraph });
    const res = await queue(user.apiKey, { deployment_id: deployment.id, inputs: { nope: 1, seed: "abc" } });
    expect(res.status).toBe(400);
    const fields = (res.body.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(["inputs.input_image", "inputs.nope", "inputs.seed"]);
  });

  it("answers 404 for another tenant's deployment and 409 for a deactivated one", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const deployment = await createDeployment(alice, { graph: externalGraph });
    const inputs = { input_image: "https://example.com/cat.png" };
    expect((await queue(bob.apiKey, { deployment_id: deployment.id, inputs })).status).toBe(404);
    await api(`/api/deployment/${deployment.id}/deactivate`, { method: "POST", token: alice.apiKey });
    expect((await queue(alice.apiKey, { deployment_id: deployment.id, inputs })).status).toBe(409);
  });

  it("the seed 000 route queues the same way", async () => {
    const user = await createUser();
    const deployment = await createDeployment(user, { graph: externalGraph });
    const res = await api<{ run_id: string }>("/api/run", {
      method: "POST",
      token: user.apiKey,
      json: { deployment_id: deployment.id, inputs: { input_image: "https://example.com/cat.png" } },
    });
    expect(res.status).toBe(200);
    expect(res.body.run_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sync waits for the outputs; stream sends ComfyDeploy's events until the end", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const deployment = await createDeployment(user, { graph: externalGraph });
    const body = { deployment_id: deployment.id, inputs: { input_image: "https://example.com/cat.png" } };
    const text = {
      node_id: "7",
      kind: "text" as const,
      filename: "t.txt",
      subfolder: "",
      type: "output",
      content_type: "text/plain",
      size: 2,
      text: "hi",
    };
    const finish = async (skip: number) => {
      const job = await agent.next("job", skip);
      await agent.report(job, { kind: "started" });
      await agent.report(job, { kind: "log", level: "INFO", message: "working" });
      await agent.report(job, { kind: "succeeded", outputs: [text] });
    };
    const [sync] = await Promise.all([
      api<{ data: unknown }[]>("/api/run/deployment/sync", {
        method: "POST",
        token: user.apiKey,
        json: body,
      }),
      finish(0),
    ]);
    expect(sync.status).toBe(200);
    expect(sync.body[0]?.data).toEqual({ text: ["hi"] });
    expect(sync.headers.get("X-Run-Status")).toBe("success");

    const [stream] = await Promise.all([
      api<string>("/api/run/deployment/stream", { method: "POST", token: user.apiKey, json: body }),
      finish(1),
    ]);
    expect(stream.body).toContain("event: event_update");
    expect(stream.body).toContain("event: log_update");
    expect(stream.body).toContain('"status":"success"');
    agent.close();
  });

  it("sync reports a failed run as 422 with its error", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const deployment = await createDeployment(user, { graph: externalGraph });
    const body = { deployment_id: deployment.id, inputs: { input_image: "https://example.com/cat.png" } };
    const fail = async () => {
      const job = await agent.next("job");
      await agent.report(job, { kind: "failed", error: { code: "execution_error", message: "OOM" } });
    };
    const [res] = await Promise.all([
      api("/api/run/deployment/sync", { method: "POST", token: user.apiKey, json: body }),
      fail(),
    ]);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: "run_failed" });
    expect((res.body as { message: string }).message).toContain("OOM");
    agent.close();
  });

  it("keeps ComfyUI's error type and node_errors verbatim in the sync 422 and every view", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const deployment = await createDeployment(user, { graph: externalGraph });
    const body = { deployment_id: deployment.id, inputs: { input_image: "https://example.com/cat.png" } };
    const error = {
      code: "validation_error" as const,
      message: "Prompt outputs failed validation",
      node_errors: {
        "2": {
          errors: [{ type: "value_not_in_list", message: "Value not in list", details: "x", extra_info: {} }],
          dependent_outputs: ["3"],
          class_type: "ImageInvert",
        },
      },
      comfy_error: {
        type: "prompt_outputs_failed_validation",
        message: "Prompt outputs failed validation",
        details: "",
        extra_info: {},
      },
    };
    const fail = async () => agent.report(await agent.next("job"), { kind: "failed", error });
    const [res] = await Promise.all([
      api<{ details: { field?: string; value?: unknown }[] }>("/api/run/deployment/sync", {
        method: "POST",
        token: user.apiKey,
        json: body,
      }),
      fail(),
    ]);
    expect(res.status).toBe(422);
    expect(res.body.details.find((d) => d.field === "error")?.value).toEqual(error);
    const runId = res.headers.get("X-Run-Id")!;
    const run = await api<{ error: unknown }>(`/api/run/${runId}`, { token: user.apiKey });
    expect(run.body.error).toEqual(error);
    const execution = await api<{ error_details: unknown }>(`/api/workflows/${runId}`, {
      token: user.apiKey,
    });
    expect(execution.body.error_details).toEqual(error);
    const stranger = await createUser();
    expect((await api(`/api/workflows/${runId}`, { token: stranger.apiKey })).status).toBe(404);
    agent.close();
  });
});
