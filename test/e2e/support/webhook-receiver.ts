import { createServer, type IncomingHttpHeaders } from "node:http";
import { Webhook } from "standardwebhooks";

export type Received = { path: string; headers: IncomingHttpHeaders; body: string };
/** How the receiver answers a request: a status, or `null` to never answer. */
export type Answer = (path: string, countForPath: number) => number | null;

export type WebhookReceiver = {
  url: string;
  received: Received[];
  /** Resolves once `probe` holds for what was received (checked on every request). */
  until<T>(probe: (received: Received[]) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  /** Verifies a request as a receiver would, with the `standardwebhooks` package; returns the payload. */
  verify(request: Received, secret: string): Record<string, unknown>;
  close(): Promise<void>;
};

/** A real HTTP server on 127.0.0.1 that records every webhook and answers as `answer` says. */
export async function startReceiver(answer: Answer = () => 200): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body });
      for (const wake of waiters) wake();
      const status = answer(path, received.filter((r) => r.path === path).length);
      if (status !== null) res.writeHead(status, { "Content-Type": "text/plain" }).end(`answered ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  const until = <T>(probe: (r: Received[]) => T | undefined, what: string, timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe(received);
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`receiver never got ${what}; got ${received.map((r) => r.path).join(", ")}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const verify = (request: Received, secret: string) =>
    new Webhook(secret).verify(request.body, {
      "webhook-id": String(request.headers["webhook-id"]),
      "webhook-timestamp": String(request.headers["webhook-timestamp"]),
      "webhook-signature": String(request.headers["webhook-signature"]),
    }) as Record<string, unknown>;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    until,
    verify,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
