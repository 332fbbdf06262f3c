import path from "node:path";
import WebSocket from "ws";
import { download, mbPerSecond, upload } from "./bytes";
import { request } from "./http";
import { groupCpuMs, startProcess, stopProcess } from "./procs";
import { applyMigrations, root, startWrangler, type WranglerServer } from "./wrangler";

const floorConfig = path.join(root, "bench", "floor", "wrangler.toml");

/** Starts the floor Worker (bench/floor) with its own `wrangler dev` and throwaway state. */
export async function startFloor(workDir: string): Promise<WranglerServer> {
  const persistTo = path.join(workDir, "floor-state");
  await applyMigrations(floorConfig, persistTo);
  return startWrangler({
    name: "floor worker",
    config: floorConfig,
    persistTo,
    healthPath: "/health",
    logFile: path.join(workDir, "floor.log"),
  });
}

/**
 * The push floor: a client holds a WebSocket on a bare Durable Object; each sample is the time from
 * sending `POST /push` (which makes the Durable Object send one message) to the message arriving.
 */
export async function pushLatency(
  floor: WranglerServer,
  runs: number,
  pauseMs = 0,
): Promise<{ samples: number[]; roundTrips: number[] }> {
  const room = `push-${Date.now()}`;
  const ws = new WebSocket(`${floor.url.replace(/^http/, "ws")}/ws/${room}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const waiting = new Map<string, (at: number) => void>();
  ws.on("message", (data) => {
    const at = performance.now();
    const text = data.toString();
    waiting.get(text)?.(at);
    waiting.delete(text);
  });
  const samples: number[] = [];
  const roundTrips: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const id = `m${i}`;
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`floor push ${id} did not arrive in 10 s`)), 10_000);
        waiting.set(id, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      const sent = performance.now();
      const res = await request("POST", `${floor.url}/push/${room}`, { body: id });
      const returned = performance.now();
      if (res.status !== 200) throw new Error(`floor push → ${res.status}: ${res.body}`);
      const at = await arrived;
      samples.push(at - sent);
      roundTrips.push(returned - sent);
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
  } finally {
    ws.close();
  }
  return { samples, roundTrips };
}

/**
 * A throughput floor: `concurrency` clients each sending `POST {route}` with `body(client, i)` one
 * after another for `durationMs`; 200s per second, and the floor's processes' CPU per 200.
 */
export async function floorThroughput(
  floor: WranglerServer,
  route: string,
  body: (client: number, i: number) => string,
  concurrency: number,
  durationMs: number,
) {
  let ok = 0;
  let errors = 0;
  const cpuBefore = groupCpuMs(floor.pid);
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      for (let i = 0; performance.now() < deadline; i++) {
        try {
          const res = await request("POST", `${floor.url}${route}`, { body: body(client, i) });
          if (res.status === 200) ok++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ok, errors, seconds, cpuMs: groupCpuMs(floor.pid) - cpuBefore };
}

/** The bytes floor: a plain Node HTTP server in its own process that stores a PUT and streams it back. */
export async function startLoopback(workDir: string) {
  const server = startProcess(
    "loopback server",
    process.execPath,
    [path.join(root, "bench", "floor", "loopback.mjs")],
    {
      logFile: path.join(workDir, "loopback.log"),
    },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("loopback server did not start in 10 s")), 10_000);
      server.child.stdout?.on("data", (d: Buffer) => {
        const match = /listening (\d+)/.exec(d.toString());
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    return { url: `http://127.0.0.1:${port}`, stop: () => stopProcess(server) };
  } catch (err) {
    await stopProcess(server);
    throw err;
  }
}

/** One PUT and one GET of `body` through the loopback server; MB/s each way. */
export async function loopbackCopy(loopbackUrl: string, body: Buffer, name: string) {
  const url = `${loopbackUrl}/blob/${name}`;
  const up = await upload(url, body, { "Content-Type": "application/octet-stream" });
  if (up.status !== 200) throw new Error(`loopback PUT → ${up.status}`);
  const down = await download(url, body);
  if (down.status !== 200 || !down.intact)
    throw new Error(`loopback GET → ${down.status}, intact ${down.intact}`);
  return { upMbps: mbPerSecond(body.length, up.ms), downMbps: mbPerSecond(body.length, down.ms) };
}
