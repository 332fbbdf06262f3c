import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { sweepStaging } from "../../src/services/files";
import {
  fetchWorker,
  JPEG_BYTES,
  keyFromUploadUrl,
  PNG_BYTES,
  presignedUpload,
  putToPresigned,
  readyFile,
} from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const MiB = 1024 * 1024;

async function content(fileId: string, token: string) {
  const res = await fetchWorker(`/api/files/${fileId}`, { token });
  return { type: res.headers.get("Content-Type"), bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe("a confirmed file cannot be changed through its upload URL", () => {
  it("keeps the confirmed bytes, type and size when the URL is used again", async () => {
    const user = await createUser();
    const upload = await readyFile(user.apiKey, PNG_BYTES, "image/png");
    expect(keyFromUploadUrl(upload.upload_url)).toMatch(/^staging\//);

    await putToPresigned(upload, JPEG_BYTES, "image/png");
    await putToPresigned(upload, new Uint8Array(8 * MiB), "image/png");

    const info = await api<{ size: number; status: string }>(`/api/files/${upload.file_id}/info`, {
      token: user.apiKey,
    });
    expect(info.body).toMatchObject({ status: "ready", size: PNG_BYTES.length });
    const served = await content(upload.file_id, user.apiKey);
    expect(served.type).toBe("image/png");
    expect(served.bytes).toEqual(PNG_BYTES);
    const ranged = await fetchWorker(`/api/files/${upload.file_id}`, {
      token: user.apiKey,
      headers: { Range: "bytes=0-3" },
    });
    expect(ranged.status).toBe(206);
  });

  it("checks the bytes it will serve: a confirm after a swap still sees one consistent object", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "image/png", PNG_BYTES.length);
    await putToPresigned(upload, PNG_BYTES, "image/png");
    const first = await api(`/api/files/${upload.file_id}/confirm`, { method: "POST", token: user.apiKey });
    expect(first.status).toBe(200);
    // a second confirm after the staged bytes were replaced changes nothing
    await putToPresigned(upload, "not a png at all", "image/png");
    const second = await api(`/api/files/${upload.file_id}/confirm`, { method: "POST", token: user.apiKey });
    expect(second.status).toBe(200);
    expect((await content(upload.file_id, user.apiKey)).bytes).toEqual(PNG_BYTES);
  });

  it("sweeps bytes staged through a URL whose file is already settled or gone, keeping pending ones", async () => {
    const user = await createUser();
    const confirmed = await readyFile(user.apiKey, PNG_BYTES, "image/png");
    await putToPresigned(confirmed, JPEG_BYTES, "image/png");
    const deleted = await readyFile(user.apiKey, "bye", "text/plain");
    expect(
      (await api(`/api/files/${deleted.file_id}`, { method: "DELETE", token: user.apiKey })).status,
    ).toBe(200);
    await putToPresigned(deleted, "bye", "text/plain");
    const pending = await presignedUpload(user.apiKey, "text/plain", 2);
    await putToPresigned(pending, "hi", "text/plain");

    await sweepStaging(env, createDb(env.DB));
    expect(await env.BUCKET.head(keyFromUploadUrl(confirmed.upload_url))).toBeNull();
    expect(await env.BUCKET.head(keyFromUploadUrl(deleted.upload_url))).toBeNull();
    expect(await env.BUCKET.head(keyFromUploadUrl(pending.upload_url))).not.toBeNull();
    const settled = await api(`/api/files/${pending.file_id}/confirm`, {
      method: "POST",
      token: user.apiKey,
    });
    expect(settled.body).toMatchObject({ status: "ready", size: 2 });
  });
});
