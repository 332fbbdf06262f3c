import { DurableObject } from "cloudflare:workers";

/**
 * The floor the benchmark measures comfy-edge against: the least a Worker with the same kinds of
 * bindings can do for each figure. No product code is imported here.
 *
 * - `GET  /ws/{room}`    upgrades to a hibernatable WebSocket held by the `Room` Durable Object.
 * - `POST /push/{room}`  makes that Durable Object send the request body to every socket it holds.
 * - `POST /close/{room}` makes that Durable Object close every socket it holds.
 * - `POST /insert`       inserts one row into D1.
 * - `POST /accept/{name}` an accept's trips and no more: a rate-limit Durable Object call beside a D1
 *   read by primary key, then one Durable Object call that stores the body in its SQLite storage and
 *   inserts one row into D1.
 * - `PUT|GET /blob/{key}` streams a body into R2 and back out (to tell R2's own cost from ours).
 */
interface Env {
  DB: D1Database;
  BUCKET: R2Bucket;
  ROOM: DurableObjectNamespace<Room>;
  LIMITER: DurableObjectNamespace<Limiter>;
  QUEUE: DurableObjectNamespace<Queue>;
}

/** The row `/accept` reads, seeded by migrations/0002_accept_seed.sql (as an accept reads its deployment). */
const SEEDED_ID = "seeded";

export class Room extends DurableObject<Env> {
  override async fetch(): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  async push(message: string): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) ws.send(message);
    return sockets.length;
  }

  /** Closes every socket, as a room does when its run ends. */
  async closeAll(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "done");
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    if (message === "ping") ws.send("pong");
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}

/** A rate limiter's trip: one call that counts, in memory. */
export class Limiter extends DurableObject<Env> {
  private taken = 0;

  async take(): Promise<number> {
    return ++this.taken;
  }
}

/** A queue's trip: one call that stores the job in SQLite and writes its D1 row. */
export class Queue extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
  }

  async enqueue(body: string): Promise<string> {
    const id = crypto.randomUUID();
    this.ctx.storage.sql.exec("INSERT INTO jobs (id, body) VALUES (?, ?)", id, body);
    await this.env.DB.prepare("INSERT INTO items (id, body, created_at) VALUES (?, ?, ?)")
      .bind(id, id, new Date().toISOString())
      .run();
    return id;
  }
}

const room = (env: Env, name: string) => env.ROOM.getByName(name);

async function accept(env: Env, name: string, body: string): Promise<Response> {
  const [, seeded] = await Promise.all([
    env.LIMITER.getByName(name).take(),
    env.DB.prepare("SELECT id, body FROM items WHERE id = ?").bind(SEEDED_ID).first(),
  ]);
  if (!seeded) return new Response("not seeded", { status: 500 });
  return Response.json({ id: await env.QUEUE.getByName(name).enqueue(body) });
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    const [, route, name = "floor"] = url.pathname.split("/");
    if (route === "ws" && request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      return room(env, name).fetch(request);
    }
    if (route === "push" && request.method === "POST") {
      const delivered = await room(env, name).push(await request.text());
      return Response.json({ delivered });
    }
    if (route === "close" && request.method === "POST") {
      await room(env, name).closeAll();
      return Response.json({ closed: true });
    }
    if (route === "insert" && request.method === "POST") {
      const id = crypto.randomUUID();
      await env.DB.prepare("INSERT INTO items (id, body, created_at) VALUES (?, ?, ?)")
        .bind(id, await request.text(), new Date().toISOString())
        .run();
      return Response.json({ id });
    }
    if (route === "accept" && request.method === "POST") {
      return accept(env, name, await request.text());
    }
    if (route === "blob") {
      const key = url.pathname.slice("/blob/".length);
      if (request.method === "PUT") {
        const object = await env.BUCKET.put(key, request.body, {
          httpMetadata: { contentType: request.headers.get("Content-Type") ?? "application/octet-stream" },
        });
        return Response.json({ size: object?.size ?? 0 });
      }
      const object = await env.BUCKET.get(key);
      if (!object) return new Response("not found", { status: 404 });
      return new Response(object.body, { headers: { "Content-Length": String(object.size) } });
    }
    if (route === "health") return Response.json({ ok: true });
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
