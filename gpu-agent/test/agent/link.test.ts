import { afterEach, describe, expect, it } from "vitest";
import { Link, type LinkEnd, type LinkHandlers } from "../../src/link";
import { silentLogger } from "../../src/log";
import { MockControlPlane } from "./helpers/mock-control-plane";

let mock: MockControlPlane;
let link: Link | undefined;

afterEach(async () => {
  await link?.stop();
  link = undefined;
  await mock?.close();
});

const hello = {
  type: "hello" as const,
  protocol: 1 as const,
  agent: { version: "test" },
  instances: [{ id: "comfy-0", comfy_url: "http://127.0.0.1:1", available: true }],
};

function startLink(overrides: { token?: string; heartbeatMs?: number } = {}) {
  const events = { ready: 0, ends: [] as LinkEnd[], messages: [] as string[] };
  const handlers: LinkHandlers = {
    hello: async () => hello,
    heartbeat: () => ({ leases: [], instances: [{ id: "comfy-0", available: true }] }),
    onReady: () => {
      events.ready += 1;
    },
    onMessage: (message) => events.messages.push(message.type),
    onEnd: (end) => events.ends.push(end),
  };
  link = new Link(
    {
      server: mock.url,
      token: overrides.token ?? "tok",
      log: silentLogger,
      heartbeatMs: overrides.heartbeatMs ?? 50,
      backoff: { baseMs: 20, capMs: 100 },
      handshakeTimeoutMs: 1000,
    },
    handlers,
  );
  link.start();
  return { link, events };
}

describe("Link", () => {
  it("says hello with the bearer token, becomes ready on welcome and heartbeats", async () => {
    mock = await MockControlPlane.start();
    const { link, events } = startLink();
    await mock.until(() => events.ready === 1, "ready");
    expect(link.state).toBe("ready");
    expect(mock.authHeaders).toEqual(["Bearer tok"]);
    expect(mock.all("hello")).toHaveLength(1);
    await mock.until(() => mock.all("heartbeat").length >= 2, "two heartbeats");
    expect(mock.all("heartbeat")[0]).toEqual({
      type: "heartbeat",
      leases: [],
      instances: [{ id: "comfy-0", available: true }],
    });
    expect(mock.invalid).toEqual([]);
  });

  it("ignores frames that are not valid protocol messages and stays up", async () => {
    mock = await MockControlPlane.start();
    const { link, events } = startLink();
    await mock.until(() => events.ready === 1, "ready");
    mock.sendRaw("not json");
    mock.sendRaw(JSON.stringify({ type: "job", run_id: "" }));
    mock.send({ type: "cancel", run_id: "r1", lease_token: "l1", reason: "cancelled" });
    await mock.until(() => events.messages.length === 1, "the valid message");
    expect(events.messages).toEqual(["cancel"]);
    expect(link.state).toBe("ready");
    expect(mock.connections).toBe(1);
  });

  it("reconnects with backoff after the socket drops, and says hello again", async () => {
    mock = await MockControlPlane.start();
    const { events } = startLink();
    await mock.until(() => events.ready === 1, "ready");
    mock.socket?.terminate();
    await mock.until(() => events.ready === 2, "second welcome");
    expect(mock.connections).toBe(2);
    expect(mock.all("hello")).toHaveLength(2);
  });

  it("treats a server that stops answering pings as a dead link", async () => {
    mock = await MockControlPlane.start();
    const { events } = startLink({ heartbeatMs: 40 });
    await mock.until(() => events.ready === 1, "ready");
    const stalled = mock.socket as unknown as { _socket: { pause(): void } };
    stalled._socket.pause();
    await mock.until(() => events.ready === 2, "reconnect after the link went silent", 3000);
  });

  it("ends for good on the revoked close code", async () => {
    mock = await MockControlPlane.start();
    const { link, events } = startLink();
    await mock.until(() => events.ready === 1, "ready");
    mock.socket?.close(4001, "machine deleted");
    await mock.until(() => events.ends.length === 1, "end");
    expect(events.ends[0]).toEqual({
      kind: "revoked",
      message: expect.stringMatching(/revoked.*machine deleted/),
    });
    expect(link.state).toBe("closed");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(mock.connections).toBe(1);
  });

  it("ends for good when the token is refused before the upgrade", async () => {
    mock = await MockControlPlane.start();
    const { events } = startLink({ token: "wrong" });
    await mock.until(() => events.ends.length === 1, "end");
    expect(events.ends[0]).toMatchObject({ kind: "refused", message: expect.stringMatching(/HTTP 401/) });
    expect(mock.connections).toBe(0);
  });

  it("stop() closes with 1000 and does not reconnect", async () => {
    mock = await MockControlPlane.start();
    const { link, events } = startLink();
    await mock.until(() => events.ready === 1, "ready");
    const closed = new Promise<number>((resolve) => mock.socket?.once("close", resolve));
    await link.stop();
    expect(await closed).toBe(1000);
    expect(events.ends).toEqual([{ kind: "stopped" }]);
    expect(link.send({ type: "heartbeat", leases: [] })).toBe(false);
  });
});
