import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./worker";

/** Holds the replies to matching requests until the test lets them go. */
export type ReplyHold = {
  /** Resolves once the server has answered a matching request (its reply is held here). */
  reached(): Promise<void>;
  /** Passes the held replies on, and every later one. */
  release(): void;
};

export type TcpProxy = {
  /** `http://127.0.0.1:<port>`: point the agent's `--server` here. */
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cuts every open connection at once, as a network drop would; new ones are accepted again. */
  cut(): void;
  /**
   * From now on, holds the server's reply to each request whose first line matches `requestLine`
   * (e.g. `/^PUT \/cdn-cgi\/local\/r2\//`): the server has done the work, the client has not heard.
   */
  holdReplies(requestLine: RegExp): ReplyHold;
  close(): Promise<void>;
};

class Hold implements ReplyHold {
  private released = false;
  private arrived = false;
  private readonly arrivals: (() => void)[] = [];
  private readonly held: (() => void)[] = [];

  constructor(readonly requestLine: RegExp) {}

  /** Keeps `pass` until release; true when it was kept. */
  keep(pass: () => void): boolean {
    if (this.released) return false;
    this.held.push(pass);
    this.arrived = true;
    for (const resolve of this.arrivals.splice(0)) resolve();
    return true;
  }

  reached(): Promise<void> {
    if (this.arrived) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  release(): void {
    this.released = true;
    for (const pass of this.held.splice(0)) pass();
  }
}

/** A TCP proxy on a free port in front of `target` (host:port), whose connections a test can cut. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  let hold: Hold | undefined;
  const server = createServer((client) => {
    connections += 1;
    const upstream = connect(target.port, target.host);
    // The hold of the request this connection carries now (keep-alive connections carry several).
    let holding: Hold | undefined;
    client.on("data", (chunk: Buffer) => {
      const line = chunk.subarray(0, 512).toString("latin1").split("\r\n", 1)[0] ?? "";
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line)) holding = hold?.requestLine.test(line) ? hold : undefined;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!holding?.keep(() => client.write(chunk))) client.write(chunk);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.on("end", () => b.end());
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
    holdReplies: (requestLine) => {
      hold?.release();
      hold = new Hold(requestLine);
      return hold;
    },
    close: async () => {
      hold?.release();
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
