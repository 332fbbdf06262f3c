import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { sendRequest } from "../../src/http-request";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("sendRequest", () => {
  it("reads a whole reply as text, and streams a request body to the server", async () => {
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => res.end(`got ${Buffer.concat(chunks).toString()}`));
    });
    const reply = await sendRequest(url, { method: "PUT", body: Readable.from(["héllo ", "wörld"]) });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toBe("got héllo wörld");
  });

  it("rejects the text of a reply cut off before its Content-Length", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("only ten b");
      setImmediate(() => res.socket?.destroy());
    });
    const reply = await sendRequest(url);
    await expect(reply.text()).rejects.toThrow();
  });

  it("fails the request, and closes the body, when the body stream fails", async () => {
    const url = await serve((req) => req.resume());
    const body = new Readable({ read() {} });
    const sent = sendRequest(url, { method: "PUT", body, headers: { "content-length": "10" } });
    body.push("abc");
    body.destroy(new Error("the file went away"));
    await expect(sent).rejects.toThrow("the file went away");
    expect(body.destroyed).toBe(true);
  });

  it("fails at once when the body failed before it was sent (a kept source that broke while waiting)", async () => {
    const url = await serve((req) => req.resume());
    const body = new Readable({ read() {} });
    body.on("error", () => {});
    body.destroy(new Error("ComfyUI closed the file"));
    await new Promise((resolve) => body.once("close", resolve));
    const sent = sendRequest(url, { method: "PUT", body, headers: { "content-length": "10" } });
    await expect(sent).rejects.toThrow("ComfyUI closed the file");
  });

  it("fails the request when the body closes before its end without an error", async () => {
    const url = await serve((req) => req.resume());
    const body = new Readable({ read() {} });
    const sent = sendRequest(url, { method: "PUT", body, headers: { "content-length": "10" } });
    body.push("abc");
    body.destroy();
    await expect(sent).rejects.toThrow();
  });

  it("closes the body when the request fails first (nothing listening)", async () => {
    const url = await serve(() => {});
    server?.close();
    server?.closeAllConnections();
    const body = new Readable({ read() {} });
    const closed = new Promise((resolve) => body.once("close", resolve));
    await expect(sendRequest(url, { method: "PUT", body })).rejects.toThrow();
    await closed;
    expect(body.destroyed).toBe(true);
  });
});
