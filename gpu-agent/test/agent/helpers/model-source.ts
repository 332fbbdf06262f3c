import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ModelSource {
  url: string;
  /** The Range header of each request, in order (undefined: none). */
  ranges: (string | undefined)[];
  /** Requests whose replies have started and not ended yet. */
  open: number;
  close(): Promise<void>;
}

export interface ModelSourceOptions {
  /** Cut the connection after about half the body, on the first request only. */
  dropOnce?: boolean;
  /** Send about half the body and then nothing more (without closing), on the first request only. */
  stallOnce?: boolean;
  /** Hold each reply until this resolves (after its headers are sent). */
  hold?: () => Promise<void>;
}

/**
 * An HTTP server on a free local port serving one file with Range support (206 with Content-Range),
 * as model hosts do; it can cut the first transfer half-way.
 */
export async function startModelSource(body: Buffer, options: ModelSourceOptions = {}): Promise<ModelSource> {
  const source: Omit<ModelSource, "url" | "close"> = { ranges: [], open: 0 };
  let dropped = false;
  const server: Server = createServer((req: IncomingMessage, res) => {
    source.ranges.push(req.headers.range);
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    if (start >= body.length && start > 0) {
      res.writeHead(416, { "Content-Range": `bytes */${body.length}` }).end();
      return;
    }
    const headers: Record<string, string | number> = { "Content-Length": body.length - start };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    source.open++;
    res.once("close", () => source.open--);
    const rest = body.subarray(start);
    void (options.hold?.() ?? Promise.resolve()).then(() => {
      if ((options.dropOnce || options.stallOnce) && !dropped) {
        dropped = true;
        const half = rest.subarray(0, Math.floor(rest.length / 2));
        res.write(half, () => (options.dropOnce ? res.socket?.destroy() : undefined));
        return;
      }
      res.end(rest);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(source, {
    url: `http://127.0.0.1:${port}/models/file.safetensors`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
