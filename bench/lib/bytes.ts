import { randomFillSync } from "node:crypto";
import http from "node:http";

/** `size` bytes of random data, made once per bench run. */
export function payload(size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  for (let offset = 0; offset < size; offset += 1 << 26)
    randomFillSync(buffer, offset, Math.min(1 << 26, size - offset));
  return buffer;
}

const CHUNK = 1 << 20;

/** Streams `body` in 1 MiB chunks as the body of a PUT (or POST); resolves with the status and ms taken. */
export function upload(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
  method = "PUT",
): Promise<{ status: number; ms: number; response: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: { "Content-Length": String(body.length), ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            response: Buffer.concat(chunks).toString("utf8").slice(0, 500),
          }),
        );
      },
    );
    req.setTimeout(300_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    let offset = 0;
    const writeMore = () => {
      while (offset < body.length) {
        const chunk = body.subarray(offset, offset + CHUNK);
        offset += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", writeMore);
          return;
        }
      }
      req.end();
    };
    writeMore();
  });
}

/** GETs `url`, keeping the chunks; resolves with the status, ms taken and whether the bytes equal `expected`. */
export function download(
  url: string,
  expected: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; ms: number; bytes: number; intact: boolean }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        bytes += c.length;
      });
      res.on("end", () => {
        const ms = performance.now() - started;
        // Checked after the clock stops, so the comparison costs nothing in the figure.
        const intact = bytes === expected.length && Buffer.concat(chunks, bytes).equals(expected);
        resolve({ status: res.statusCode ?? 0, ms, bytes, intact });
      });
      res.on("error", reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export const mbPerSecond = (bytes: number, ms: number) => bytes / (1024 * 1024) / (ms / 1000);
