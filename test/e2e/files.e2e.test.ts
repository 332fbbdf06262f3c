import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { type E2EUser, SHARED_WORKER_VARS, sharedWorker } from "./support/worker";

const MiB = 1024 * 1024;
/** R2's smallest multipart part; the sizes below cross part boundaries of both large-upload paths. */
const PART = 5 * MiB;
const STREAM_LIMIT = Number(SHARED_WORKER_VARS.MAX_STREAMED_UPLOAD_BYTES);
const BLOCK = randomBytes(MiB);

/** `size` pseudo-random bytes in 1 MiB chunks, each chunk distinct, generated as they are read. */
function* payload(size: number, seed: number): Generator<Buffer> {
  for (let offset = 0, i = 0; offset < size; offset += MiB, i++) {
    const chunk = Buffer.from(BLOCK.subarray(0, Math.min(MiB, size - offset)));
    if (chunk.length >= 4) chunk.writeUInt32BE((seed * 0x9e3779b1 + i) >>> 0, 0);
    yield chunk;
  }
}

function slice(size: number, seed: number, start: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let offset = 0;
  for (const chunk of payload(size, seed)) {
    const end = offset + chunk.length;
    if (end > start && offset < start + length) {
      const from = Math.max(start, offset);
      chunk.copy(out, from - start, from - offset, Math.min(end, start + length) - offset);
    }
    offset = end;
    if (offset >= start + length) break;
  }
  return out;
}

const sha256Of = (size: number, seed: number) => {
  const hash = createHash("sha256");
  for (const chunk of payload(size, seed)) hash.update(chunk);
  return hash.digest("hex");
};

type Sent = { status: number; body: string; headers: http.IncomingHttpHeaders };

/** PUTs (or POSTs) a generated stream with http.request, so nothing holds the whole body. */
function send(
  url: string,
  chunks: Iterable<Buffer>,
  headers: Record<string, string>,
  method = "PUT",
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    (async () => {
      for (const chunk of chunks) {
        if (req.destroyed) return;
        if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      }
      req.end();
    })().catch(reject);
  });
}

async function sha256OfUrl(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size, type: res.headers.get("content-type") };
}

const worker = sharedWorker();
let alice: E2EUser;
let bob: E2EUser;

async function call<T = Record<string, unknown>>(
  path: string,
  init: { method?: string; token?: string; json?: unknown },
) {
  const res = await fetch(`${worker.url}${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
      ...(init.json !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}

type Presigned = {
  upload_url: string;
  upload_headers: Record<string, string>;
  file_id: string;
  download_url: string;
};

beforeAll(async () => {
  [alice, bob] = await Promise.all([worker.createUser("alice"), worker.createUser("bob")]);
});

describe("files against wrangler dev", () => {
  const ids: string[] = [];

  it.each([
    ["1 KB", 1024, "/api/file/upload"],
    ["8 MB", 8 * MiB + 1, "/api/upload-url"],
  ])("uploads %s through a presigned PUT and reads it back byte-identical", async (_label, size, route) => {
    const seed = size;
    const json =
      route === "/api/file/upload"
        ? { type: "application/octet-stream", file_size: size, filename: "small.bin" }
        : { filename: "medium.bin", content_type: "application/octet-stream", file_size: size };
    const presigned = await call<Presigned>(route, { method: "POST", token: alice.apiKey, json });
    expect(presigned.status).toBe(200);
    const put = await send(presigned.body.upload_url, payload(size, seed), {
      ...presigned.body.upload_headers,
      "Content-Length": String(size),
    });
    expect(put.status, put.body).toBe(200);
    const confirmed = await call(`/api/files/${presigned.body.file_id}/confirm`, {
      method: "POST",
      token: alice.apiKey,
    });
    expect(confirmed.body).toMatchObject({ status: "ready", size });

    const expected = sha256Of(size, seed);
    expect((await sha256OfUrl(presigned.body.download_url)).sha256).toBe(expected);
    const viaApi = await sha256OfUrl(`${worker.url}/api/files/${presigned.body.file_id}`, alice.apiKey);
    expect(viaApi).toMatchObject({ sha256: expected, size });
    ids.push(presigned.body.file_id);
  });

  it("uploads a file as an R2 multipart upload with presigned parts, read back across part boundaries", async () => {
    const size = 2 * PART + 12345;
    const seed = 7;
    const started = await call<{
      file_id: string;
      part_size: number;
      parts: { part_number: number; size: number; upload_url: string }[];
    }>("/api/files/multipart", {
      method: "POST",
      token: alice.apiKey,
      json: {
        filename: "large.bin",
        content_type: "application/octet-stream",
        file_size: size,
        part_size: PART,
      },
    });
    expect(started.status).toBe(201);
    const { part_size: partSize, parts } = started.body;
    expect(parts.map((p) => p.size)).toEqual([PART, PART, 12345]);
    const etags: { part_number: number; etag: string }[] = [];
    const queue = [...parts];
    await Promise.all(
      [1, 2, 3].map(async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          const bytes = slice(size, seed, (part.part_number - 1) * partSize, part.size);
          const res = await fetch(part.upload_url, { method: "PUT", body: bytes });
          expect(res.status, await res.clone().text()).toBe(200);
          etags.push({ part_number: part.part_number, etag: res.headers.get("etag") ?? "" });
        }
      }),
    );
    const done = await call(`/api/files/${started.body.file_id}/multipart/complete`, {
      method: "POST",
      token: alice.apiKey,
      json: { parts: etags },
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ status: "ready", size });
    const read = await sha256OfUrl(String(done.body.download_url));
    expect(read).toMatchObject({ sha256: sha256Of(size, seed), size });

    const tail = await fetch(String(done.body.download_url), { headers: { Range: `bytes=${size - 100}-` } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(slice(size, seed, size - 100, 100));
    const across = await fetch(String(done.body.download_url), {
      headers: { Range: `bytes=${PART - 100}-${PART + 99}` },
    });
    expect(across.status).toBe(206);
    expect(Buffer.from(await across.arrayBuffer())).toEqual(slice(size, seed, PART - 100, 200));
    ids.push(started.body.file_id);
  });

  it("streams a multipart/form-data upload through the Worker, and refuses one past the limit (413)", async () => {
    const size = 2 * PART + 3;
    const boundary = "e2eboundary7d1f";
    const form = (n: number, seed: number) =>
      (function* () {
        yield Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="form.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        );
        yield* payload(n, seed);
        yield Buffer.from(`\r\n--${boundary}--\r\n`);
      })();
    const headers = {
      Authorization: `Bearer ${alice.apiKey}`,
      "Content-Type": `multipart/form-data; boundary=${boundary}`,
      "Transfer-Encoding": "chunked",
    };
    const ok = await send(`${worker.url}/api/files/upload`, form(size, 3), headers, "POST");
    expect(ok.status, ok.body).toBe(200);
    const stored = JSON.parse(ok.body) as { file_id: string; sha256: string; size: number };
    expect(stored).toMatchObject({ size, sha256: sha256Of(size, 3) });
    expect((await sha256OfUrl(`${worker.url}/api/files/${stored.file_id}`, alice.apiKey)).sha256).toBe(
      stored.sha256,
    );

    const tooBig = await send(
      `${worker.url}/api/files/upload`,
      form(STREAM_LIMIT + MiB, 4),
      headers,
      "POST",
    ).catch((err: Error) => ({ status: -1, body: err.message, headers: {} }));
    expect(tooBig.status, tooBig.body).toBe(413);
  });

  it("refuses tampered and expired URLs with 403", async () => {
    const size = 1024;
    const presign = (expiresIn?: number) =>
      call<Presigned>("/api/file/upload", {
        method: "POST",
        token: alice.apiKey,
        json: { type: "text/plain", file_size: size, ...(expiresIn ? { expires_in: expiresIn } : {}) },
      }).then((r) => r.body);
    const good = await presign();
    const short = await presign(1);
    const download = await call<{ url: string }>(`/api/files/${ids[0]}/download-url`, {
      method: "POST",
      token: alice.apiKey,
      json: { expires_in: 1 },
    });
    const headers = { ...good.upload_headers, "Content-Length": String(size) };

    const sig = new URL(good.upload_url);
    sig.searchParams.set("X-Amz-Signature", "0".repeat(64));
    expect((await send(sig.toString(), payload(size, 1), headers)).status).toBe(403);
    const key = good.upload_url.replace(good.file_id, crypto.randomUUID());
    expect((await send(key, payload(size, 1), headers)).status).toBe(403);
    const wrongType = { ...headers, "Content-Type": "text/html" };
    expect((await send(good.upload_url, payload(size, 1), wrongType)).status).toBe(403);
    const wrongSize = { ...headers, "Content-Length": String(size - 1) };
    expect((await send(good.upload_url, [Buffer.alloc(size - 1)], wrongSize)).status).toBe(403);

    const tampered = new URL(download.body.url);
    tampered.searchParams.set("expires", String(Number(tampered.searchParams.get("expires")) + 86400));
    expect((await fetch(tampered)).status).toBe(403);

    await new Promise((r) => setTimeout(r, 2100));
    const late = await send(short.upload_url, payload(size, 1), {
      ...short.upload_headers,
      "Content-Length": String(size),
    });
    expect(late.status).toBe(403);
    expect(late.body).toContain("expired");
    expect((await fetch(download.body.url)).status).toBe(403);
    expect((await send(good.upload_url, payload(size, 1), headers)).status).toBe(200);
  });

  it("gives another tenant 404 for every id", async () => {
    for (const id of ids) {
      expect((await call(`/api/files/${id}/info`, { token: bob.apiKey })).status).toBe(404);
      expect(
        (await fetch(`${worker.url}/api/files/${id}`, { headers: { Authorization: `Bearer ${bob.apiKey}` } }))
          .status,
      ).toBe(404);
      expect((await call(`/api/files/${id}/confirm`, { method: "POST", token: bob.apiKey })).status).toBe(
        404,
      );
      expect(
        (await call(`/api/files/${id}/download-url`, { method: "POST", token: bob.apiKey, json: {} })).status,
      ).toBe(404);
      expect(
        (await call(`/api/file/${id}/rename`, { method: "POST", token: bob.apiKey, json: { filename: "x" } }))
          .status,
      ).toBe(404);
      expect((await call(`/api/files/${id}`, { method: "DELETE", token: bob.apiKey })).status).toBe(404);
      expect((await call(`/api/assets/${id}`, { token: bob.apiKey })).status).toBe(404);
    }
    const list = await call<{ total: number }>("/api/files", { token: bob.apiKey });
    expect(list.body.total).toBe(0);
    expect((await call(`/api/files/${ids[0]}/info`, { token: alice.apiKey })).status).toBe(200);
  });
});
