import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/inputs/bind-inputs";
import { fetchInput } from "../../src/inputs/fetch-input";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (path === "/files/cat.png") {
      res.writeHead(200, { "content-type": "image/png" }).end(PNG);
    } else if (path === "/redirect") {
      res.writeHead(302, { location: "/files/cat.png" }).end();
    } else if (path === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(Buffer.alloc(4096));
    } else if (path === "/slow") {
      res.writeHead(200);
      res.write("x");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const options = { maxBytes: 1024, timeoutMs: 2000, allowPrivate: false, trustedOrigins: [] as string[] };

describe("fetchInput", () => {
  it("decodes base64 and percent-encoded data URIs", async () => {
    const uri = `data:image/png;base64,${PNG.toString("base64")}`;
    expect(await fetchInput(uri, options)).toEqual({
      bytes: PNG,
      contentType: "image/png",
      filename: "input",
    });
    const text = await fetchInput("data:,hello%20world", options);
    expect(text.bytes.toString()).toBe("hello world");
    expect(text.contentType).toBe("text/plain");
  });

  it("refuses loopback and private URLs, literal or resolved", async () => {
    await expect(fetchInput(`${origin}/files/cat.png`, options)).rejects.toThrow(/private or local address/);
    await expect(fetchInput("http://localhost:9/x.png", options)).rejects.toThrow(/private or local address/);
    await expect(fetchInput("http://[::1]:9/x.png", options)).rejects.toThrow(InputError);
    await expect(fetchInput("file:///etc/passwd", options)).rejects.toThrow(/http\(s\) URL or a data URI/);
  });

  it("fetches a private URL when allowed, or on a trusted origin, following redirects", async () => {
    const allowed = await fetchInput(`${origin}/redirect`, { ...options, allowPrivate: true });
    expect(allowed).toEqual({ bytes: PNG, contentType: "image/png", filename: "cat.png" });
    const trusted = await fetchInput(`${origin}/files/cat.png?sig=secret`, {
      ...options,
      trustedOrigins: [origin],
    });
    expect(trusted.bytes).toEqual(PNG);
  });

  it("enforces the size limit, the time limit and the status, without leaking query strings", async () => {
    const open = { ...options, allowPrivate: true };
    await expect(fetchInput(`${origin}/big`, open)).rejects.toThrow(/larger than/);
    await expect(fetchInput(`data:;base64,${Buffer.alloc(2048).toString("base64")}`, open)).rejects.toThrow(
      /larger than/,
    );
    await expect(fetchInput(`${origin}/slow`, { ...open, timeoutMs: 200 })).rejects.toThrow(
      /longer than 200 ms/,
    );
    const missing = fetchInput(`${origin}/nope?X-Amz-Signature=secret`, open);
    await expect(missing).rejects.toThrow(/HTTP 404/);
    await expect(missing).rejects.not.toThrow(/secret/);
  });
});
