import { describe, expect, it, vi } from "vitest";
import { fetchWorker, PNG_BYTES, presignedUpload, readyFile } from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const TEXT = "0123456789abcdefghij";

describe("GET /api/files/{id}", () => {
  it("streams the bytes with the file's type and an inline disposition for safe types", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, PNG_BYTES, "image/png", "café photo.png");
    const res = await fetchWorker(`/api/files/${file.file_id}`, { token: user.apiKey });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG_BYTES);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("Content-Length")).toBe(String(PNG_BYTES.length));
    expect(res.headers.get("Content-Disposition")).toBe(
      `inline; filename="caf_ photo.png"; filename*=UTF-8''caf%C3%A9%20photo.png`,
    );
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Accept-Ranges")).toBe("bytes");
  });

  it("serves types a browser could run as sandboxed attachments", async () => {
    const user = await createUser();
    for (const type of ["text/html", "image/svg+xml"]) {
      const file = await readyFile(user.apiKey, "<script>alert(1)</script>", type, "page");
      const res = await fetchWorker(`/api/files/${file.file_id}`, { token: user.apiKey });
      expect(res.headers.get("Content-Disposition")).toMatch(/^attachment;/);
      expect(res.headers.get("Content-Security-Policy")).toContain("sandbox");
      await res.arrayBuffer();
    }
  });

  it("answers Range requests with 206, suffix ranges, and 416 past the end", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, TEXT, "text/plain");
    const path = `/api/files/${file.file_id}`;
    const part = await fetchWorker(path, { token: user.apiKey, headers: { Range: "bytes=2-5" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("2345");
    expect(part.headers.get("Content-Range")).toBe(`bytes 2-5/${TEXT.length}`);
    const open = await fetchWorker(path, { token: user.apiKey, headers: { Range: "bytes=15-" } });
    expect(await open.text()).toBe("fghij");
    const suffix = await fetchWorker(path, { token: user.apiKey, headers: { Range: "bytes=-3" } });
    expect(await suffix.text()).toBe("hij");
    const past = await fetchWorker(path, { token: user.apiKey, headers: { Range: "bytes=100-" } });
    expect(past.status).toBe(416);
    expect(past.headers.get("Content-Range")).toBe(`bytes */${TEXT.length}`);
    const multi = await fetchWorker(path, { token: user.apiKey, headers: { Range: "bytes=0-1,4-5" } });
    expect(multi.status).toBe(200);
    expect(await multi.text()).toBe(TEXT);
  });

  it("answers HEAD with the headers only", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, TEXT, "text/plain");
    const res = await fetchWorker(`/api/files/${file.file_id}`, { token: user.apiKey, method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Length")).toBe(String(TEXT.length));
    expect(await res.text()).toBe("");
  });

  it("answers If-None-Match with 304", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, TEXT, "text/plain");
    const first = await fetchWorker(`/api/files/${file.file_id}`, { token: user.apiKey });
    await first.arrayBuffer();
    const etag = first.headers.get("ETag")!;
    const again = await fetchWorker(`/api/files/${file.file_id}`, {
      token: user.apiKey,
      headers: { "If-None-Match": etag },
    });
    expect(again.status).toBe(304);
  });

  it("forces an attachment with ?download=1", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, PNG_BYTES, "image/png");
    const res = await fetchWorker(`/api/files/${file.file_id}?download=1`, { token: user.apiKey });
    expect(res.headers.get("Content-Disposition")).toMatch(/^attachment;/);
    await res.arrayBuffer();
  });

  it("is 409 for a pending upload, 404 for another tenant or no such id, 401 without a token", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const pending = await presignedUpload(alice.apiKey, "text/plain", 3);
    expect((await api(`/api/files/${pending.file_id}`, { token: alice.apiKey })).status).toBe(409);
    const file = await readyFile(alice.apiKey, TEXT, "text/plain");
    expect((await api(`/api/files/${file.file_id}`, { token: bob.apiKey })).status).toBe(404);
    expect((await api(`/api/files/${crypto.randomUUID()}`, { token: alice.apiKey })).status).toBe(404);
    expect((await api(`/api/files/${file.file_id}`)).status).toBe(401);
  });
});

describe("signed download URLs", () => {
  it("work without a token until they expire", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, TEXT, "text/plain");
    const res = await fetchWorker(file.download_url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(TEXT);

    const minted = await api<{ url: string; expires_at: string }>(`/api/files/${file.file_id}/download-url`, {
      method: "POST",
      token: user.apiKey,
      json: { expires_in: 120 },
    });
    expect(minted.status).toBe(200);
    expect(Date.parse(minted.body.expires_at) - Date.now()).toBeLessThanOrEqual(121_000);
    expect(await (await fetchWorker(minted.body.url)).text()).toBe(TEXT);
  });

  it("refuse a tampered signature, another file's signature and an expired link with 403", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, TEXT, "text/plain");
    const other = await readyFile(user.apiKey, "other", "text/plain");
    const url = new URL(file.download_url);
    const sig = url.searchParams.get("sig")!;

    const tampered = new URL(url);
    tampered.searchParams.set("sig", `${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`);
    expect((await api(tampered.pathname + tampered.search)).status).toBe(403);

    const longer = new URL(url);
    longer.searchParams.set("expires", String(Number(url.searchParams.get("expires")) + 3600));
    expect((await api(longer.pathname + longer.search)).status).toBe(403);

    const swapped = `/api/files/${other.file_id}/content${url.search}`;
    expect((await api(swapped)).status).toBe(403);

    const minted = await api<{ url: string }>(`/api/files/${file.file_id}/download-url`, {
      method: "POST",
      token: user.apiKey,
      json: { expires_in: 1 },
    });
    expect(minted.status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 5000 });
    try {
      const expired = await api<{ message: string }>(
        new URL(minted.body.url).pathname + new URL(minted.body.url).search,
      );
      expect(expired.status).toBe(403);
      expect(expired.body.message).toMatch(/expired/);
    } finally {
      vi.useRealTimers();
    }
    expect((await api(`/api/files/${file.file_id}/content`)).status).toBe(400);
  });

  it("minting is owner-only and validated", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const file = await readyFile(alice.apiKey, TEXT, "text/plain");
    const path = `/api/files/${file.file_id}/download-url`;
    expect((await api(path, { method: "POST", token: bob.apiKey, json: {} })).status).toBe(404);
    expect((await api(path, { method: "POST", json: {} })).status).toBe(401);
    expect(
      (await api(path, { method: "POST", token: alice.apiKey, json: { expires_in: 30 * 86400 } })).status,
    ).toBe(400);
  });
});

describe("GET /api/files and /api/files/{id}/info", () => {
  it("lists only the caller's files, newest first, paginated", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const ids = [];
    for (const text of ["a", "b", "c"]) ids.push((await readyFile(alice.apiKey, text, "text/plain")).file_id);
    await readyFile(bob.apiKey, "x", "text/plain");
    const page = await api<{ files: { id: string }[]; total: number; limit: number; offset: number }>(
      "/api/files?limit=2",
      { token: alice.apiKey },
    );
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(3);
    expect(page.body.files.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const next = await api<{ files: { id: string }[] }>("/api/files?limit=2&offset=2", {
      token: alice.apiKey,
    });
    expect(next.body.files.map((f) => f.id)).toEqual([ids[0]]);
    const filtered = await api<{ total: number }>("/api/files?purpose=asset", { token: alice.apiKey });
    expect(filtered.body.total).toBe(0);
    expect((await api("/api/files?limit=1000", { token: alice.apiKey })).status).toBe(400);
    expect((await api("/api/files")).status).toBe(401);
  });

  it("gives seed 004's fields", async () => {
    const user = await createUser();
    const file = await readyFile(user.apiKey, PNG_BYTES, "image/png", "input_image.png");
    const info = await api(`/api/files/${file.file_id}/info`, { token: user.apiKey });
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      file_id: file.file_id,
      filename: "input_image.png",
      size: PNG_BYTES.length,
      content_type: "image/png",
      created_at: expect.any(String),
      expires_at: null,
      download_url: expect.stringContaining("/content?"),
    });
    const other = await createUser("other");
    expect((await api(`/api/files/${file.file_id}/info`, { token: other.apiKey })).status).toBe(404);
  });
});

describe("rename and delete", () => {
  it("renames with a sanitised name; another tenant gets 404", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const file = await readyFile(alice.apiKey, TEXT, "text/plain");
    const path = `/api/file/${file.file_id}/rename`;
    const res = await api(path, {
      method: "POST",
      token: alice.apiKey,
      json: { filename: "/tmp/new\r\nname.txt" },
    });
    expect(res.status).toBe(200);
    expect(res.body.filename).toBe("new name.txt");
    expect((await api(path, { method: "POST", token: bob.apiKey, json: { filename: "x" } })).status).toBe(
      404,
    );
    expect((await api(path, { method: "POST", token: alice.apiKey, json: { filename: "" } })).status).toBe(
      400,
    );
    expect((await api(path, { method: "POST", json: { filename: "x" } })).status).toBe(401);
  });

  it("deletes the record and the bytes; another tenant gets 404", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const file = await readyFile(alice.apiKey, TEXT, "text/plain");
    expect((await api(`/api/files/${file.file_id}`, { method: "DELETE", token: bob.apiKey })).status).toBe(
      404,
    );
    expect((await api(`/api/files/${file.file_id}`, { method: "DELETE" })).status).toBe(401);
    const res = await api(`/api/files/${file.file_id}`, { method: "DELETE", token: alice.apiKey });
    expect(res.body).toEqual({ id: file.file_id, deleted: true });
    expect((await api(`/api/files/${file.file_id}/info`, { token: alice.apiKey })).status).toBe(404);
    expect((await fetchWorker(file.download_url)).status).toBe(404);
  });
});
