import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { files, type RunStatus, runs } from "../../src/db/schema";
import type { Bindings } from "../../src/env";
import { presignPut, signedDownloadUrl, verifyDownloadSignature } from "../../src/lib/signed-urls";
import { outputFiles } from "../../src/runs/outputs";
import { requireOwnedFile, sweepExpiredUploads } from "../../src/services/files";
import { insertOutputFileOnSuccess } from "../../src/stores/files";
import { insertRun } from "../../src/stores/runs";
import { expireNow, fetchWorker, presignedUpload, putToPresigned } from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const bindings = env as unknown as Bindings;
const db = () => createDb(env.DB);

/** A run of `userId` in D1 with this status, and nothing else about it. */
async function runWithStatus(userId: string, status: RunStatus) {
  const row = { id: crypto.randomUUID(), userId, inputs: {}, graph: {}, bindings: [], status };
  return (await insertRun(db(), row)).id;
}

describe("outputFiles and insertOutputFileOnSuccess", () => {
  it("records an output an agent PUT to R2 once its run succeeded, once per key, readable by its owner", async () => {
    const user = await createUser();
    const runId = await runWithStatus(user.id, "uploading");
    const key = `outputs/${user.id}/${runId}/0/ComfyUI_00001_.png`;
    await env.BUCKET.put(key, "png bytes", { httpMetadata: { contentType: "image/png" } });
    const run = { runId, userId: user.id, origin: "https://api.example.com" };
    const output = {
      node_id: "9",
      kind: "images" as const,
      filename: "ComfyUI_00001_.png",
      subfolder: "",
      type: "output",
      content_type: "image/png",
      size: 9,
      key,
    };
    const recorded = () => db().select().from(files).where(eq(files.r2Key, key));
    const planned = await outputFiles(bindings, run, [output]);
    expect(planned.newFiles).toHaveLength(1);
    // The run has not moved to success: nothing is recorded.
    await db().batch([insertOutputFileOnSuccess(db(), planned.newFiles[0]!)]);
    expect(await recorded()).toEqual([]);

    await db().update(runs).set({ status: "success" }).where(eq(runs.id, runId));
    await db().batch([insertOutputFileOnSuccess(db(), planned.newFiles[0]!)]);
    // A repeated success plans a new id for the same key: the key is taken, so the first file stays.
    const again = await outputFiles(bindings, run, [output]);
    await db().batch([insertOutputFileOnSuccess(db(), again.newFiles[0]!)]);
    const [first, ...more] = await recorded();
    expect(more).toEqual([]);
    expect(planned.stored[0]).toMatchObject({ file_id: first!.id });
    expect(first).toMatchObject({ userId: user.id, status: "ready", purpose: "output", runId, size: 9 });

    const list = await api<{ files: { id: string; run_id: string }[] }>(`/api/files?run_id=${runId}`, {
      token: user.apiKey,
    });
    expect(list.body.files).toEqual([expect.objectContaining({ id: first!.id, run_id: runId })]);
    const other = await createUser("other");
    const theirs = await api(`/api/files/${first!.id}`, { token: other.apiKey });
    expect(theirs.status).toBe(404);
    const url = await signedDownloadUrl(bindings, "https://api.example.com", first!.id, 60);
    expect(url).toMatch(
      new RegExp(`^https://api.example.com/api/files/${first!.id}/content\\?expires=\\d+&sig=`),
    );
    const res = await fetchWorker(url.replace("https://api.example.com", "http://comfy-edge.test"));
    expect(await res.text()).toBe("png bytes");
  });

  it("records nothing for a run that ended otherwise", async () => {
    const user = await createUser();
    const runId = await runWithStatus(user.id, "cancelled");
    const output = {
      node_id: "9",
      kind: "images" as const,
      filename: "a.png",
      subfolder: "",
      type: "output",
      content_type: "image/png",
      size: 3,
      key: `outputs/${user.id}/${runId}/0/a.png`,
    };
    const planned = await outputFiles(bindings, { runId, userId: user.id, origin: "https://x.test" }, [
      output,
    ]);
    await db().batch([insertOutputFileOnSuccess(db(), planned.newFiles[0]!)]);
    expect(await db().select().from(files).where(eq(files.runId, runId))).toEqual([]);
  });
});

describe("verifyDownloadSignature", () => {
  it("accepts its own signatures only", async () => {
    const url = new URL(await signedDownloadUrl(bindings, "http://x.test", "file-1", 60));
    const expires = Number(url.searchParams.get("expires"));
    const sig = url.searchParams.get("sig")!;
    await expect(verifyDownloadSignature(bindings, "file-1", expires, sig)).resolves.toBeUndefined();
    await expect(verifyDownloadSignature(bindings, "file-2", expires, sig)).rejects.toMatchObject({
      code: "forbidden",
    });
    const other = { ...bindings, URL_SIGNING_SECRET: "another-secret" };
    await expect(verifyDownloadSignature(other, "file-1", expires, sig)).rejects.toMatchObject({
      code: "forbidden",
    });
  });
});

describe("requireOwnedFile", () => {
  it("gives the owner's ready file and a field error otherwise, confirming on first use", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const upload = await presignedUpload(alice.apiKey, "text/plain", 5);
    await expect(requireOwnedFile(db(), alice.id, upload.file_id, "inputs.image")).rejects.toMatchObject({
      code: "validation_error",
      details: [{ field: "inputs.image" }],
    });
    await putToPresigned(upload, "hello", "text/plain");
    await expect(
      requireOwnedFile(db(), bob.id, upload.file_id, "inputs.image", bindings),
    ).rejects.toMatchObject({
      code: "validation_error",
    });
    const row = await requireOwnedFile(db(), alice.id, upload.file_id, "inputs.image", bindings);
    expect(row.status).toBe("ready");
  });
});

describe("presignPut", () => {
  it("points at R2's S3 endpoint with the configured credentials in production", async () => {
    const production = {
      ...bindings,
      R2_S3_ENDPOINT: "https://0123abcd.r2.cloudflarestorage.com/comfy-edge-files/",
      R2_ACCESS_KEY_ID: "AKIDEXAMPLE",
      R2_SECRET_ACCESS_KEY: "secret",
    };
    const signed = await presignPut(
      production,
      "https://api.example.com",
      "outputs/u/r/0/a.png",
      "image/png",
      10,
      600,
    );
    const url = new URL(signed.url);
    expect(url.origin).toBe("https://0123abcd.r2.cloudflarestorage.com");
    expect(url.pathname).toBe("/comfy-edge-files/outputs/u/r/0/a.png");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^AKIDEXAMPLE\//);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("600");
    expect(signed.headers).toEqual({ "Content-Type": "image/png" });
  });

  it("refuses to sign when nothing is configured and the origin is not local", async () => {
    await expect(presignPut(bindings, "https://api.example.com", "k", "a/b", 1, 60)).rejects.toMatchObject({
      code: "service_unavailable",
    });
    const noKeys = { ...bindings, R2_ACCESS_KEY_ID: undefined, R2_SECRET_ACCESS_KEY: undefined };
    const half = { ...noKeys, R2_S3_ENDPOINT: "https://x.r2.cloudflarestorage.com/b" };
    await expect(presignPut(half, "https://api.example.com", "k", "a/b", 1, 60)).rejects.toMatchObject({
      code: "service_unavailable",
    });
  });

  it("has no built-in local credentials: a local origin without generated ones cannot sign", async () => {
    const noKeys = { ...bindings, R2_ACCESS_KEY_ID: undefined, R2_SECRET_ACCESS_KEY: undefined };
    await expect(presignPut(noKeys, "http://127.0.0.1:8787", "k", "a/b", 1, 60)).rejects.toMatchObject({
      code: "service_unavailable",
    });
  });
});

describe("sweepExpiredUploads", () => {
  it("expires pending uploads past their time and leaves arrived ones ready", async () => {
    const user = await createUser();
    const lost = await presignedUpload(user.apiKey, "text/plain", 5);
    const arrived = await presignedUpload(user.apiKey, "text/plain", 5);
    await putToPresigned(arrived, "hello", "text/plain");
    await expireNow(lost.file_id);
    await expireNow(arrived.file_id);
    expect(await sweepExpiredUploads(bindings, db(), 1000)).toBeGreaterThanOrEqual(2);
    const status = async (id: string) =>
      (await api<{ status: string }>(`/api/files/${id}/info`, { token: user.apiKey })).body.status;
    expect(await status(lost.file_id)).toBe("expired");
    expect(await status(arrived.file_id)).toBe("ready");
  });
});

describe("OpenAPI", () => {
  it("documents every file and asset route with its errors", async () => {
    const doc = await api<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>(
      "/api/doc",
    );
    const routes = [
      ["/api/file/upload", "post"],
      ["/api/upload-url", "post"],
      ["/api/upload-url", "get"],
      ["/api/files/upload", "post"],
      ["/api/files/multipart", "post"],
      ["/api/files/{id}/multipart/urls", "post"],
      ["/api/files/{id}/multipart/complete", "post"],
      ["/api/files/{id}/multipart", "delete"],
      ["/api/files/{id}/confirm", "post"],
      ["/api/files", "get"],
      ["/api/files/{id}", "get"],
      ["/api/files/{id}", "delete"],
      ["/api/files/{id}/info", "get"],
      ["/api/files/{id}/content", "get"],
      ["/api/files/{id}/download-url", "post"],
      ["/api/file/{id}/rename", "post"],
      ["/api/assets", "get"],
      ["/api/assets/upload", "post"],
      ["/api/assets/{id}", "get"],
      ["/api/assets/{id}", "delete"],
    ] as const;
    for (const [path, method] of routes) {
      const op = doc.body.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(Object.keys(op!.responses)).toContain("500");
    }
    const upload = doc.body.paths["/api/file/upload"]?.post as unknown as {
      requestBody: { content: Record<string, unknown> };
    };
    expect(Object.keys(upload.requestBody.content)).toEqual(["application/json", "multipart/form-data"]);
  });
});
