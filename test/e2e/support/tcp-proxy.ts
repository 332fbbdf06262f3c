import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./worker";

export type TcpProxy = {
  /** `http://127.0.0.1:<port>`: point the agent's `--server` here. */
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cuts every open connection at once, as a network drop would; new ones are accepted again. */
  cut(): void;
  close(): Promise<void>;
};

/** A TCP proxy on a free port in front of `target` (host:port), whose connections a test can cut. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections += 1;
    const upstream = connect(target.port, target.host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        open.delete(a);
        b.destroy();
      });
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    cut: () => {
      for (const socket of open) socket.destroy();
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
