import WebSocket from "ws";

/**
 * CPU profiles of the Worker's isolate (Worker and Durable Objects alike) through wrangler dev's
 * inspector (Chrome DevTools protocol), so `npm run bench -- --profile` can say where the time goes.
 */
type CallFrame = {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
  scriptId: string;
};
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};

class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
    });
  }

  static async open(inspectorPort: number) {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error("the inspector lists no target");
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new Inspector(ws);
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close() {
    this.ws.close();
  }
}

export type ProfileSummary = {
  /** Wall time profiled, ms. */
  wallMs: number;
  /** Time the isolate's thread ran JavaScript or the engine, ms (everything but idle). */
  busyMs: number;
  /** Self time by module (file or npm package), ms, largest first. */
  byModule: [string, number][];
  /** Self time by function, ms, largest first. */
  byFunction: [string, number][];
};

/** Which module a bundled line belongs to, from esbuild's `// path/to/module.ts` markers. */
function moduleIndex(source: string): (line: number) => string {
  const marks: { line: number; name: string }[] = [];
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = /^\/\/ (\S+\.(?:[cm]?[jt]sx?|json))$/.exec(lines[i]!);
    if (match) marks.push({ line: i, name: packageOf(match[1]!) });
  }
  return (line) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = "(wrangler's wrapper code)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]!.line <= line) {
        found = marks[mid]!.name;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** `…/node_modules/@hono/zod-openapi/dist/index.js` → `@hono/zod-openapi`; `…/src/a/b.ts` → `src/a/b.ts`. */
function packageOf(file: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  const own = /(?:^|\/)((?:src|bench)\/.*)$/.exec(file);
  return own ? own[1]! : file.replace(/^(\.\.\/)+/, "");
}

/** Profiles the isolate while `work` runs; sampling every `intervalUs` microseconds. */
export async function profileDuring(
  inspectorPort: number,
  work: () => Promise<unknown>,
  intervalUs = 1000,
): Promise<ProfileSummary> {
  const inspector = await Inspector.open(inspectorPort);
  try {
    await inspector.send("Debugger.enable");
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await inspector.send("Profiler.start");
    await work();
    const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
    const sources = new Map<string, (line: number) => string>();
    const moduleOf = async (frame: CallFrame) => {
      if (!frame.scriptId || frame.scriptId === "0") return frame.url || "(native)";
      if (!sources.has(frame.scriptId)) {
        try {
          const { scriptSource } = await inspector.send<{ scriptSource: string }>(
            "Debugger.getScriptSource",
            {
              scriptId: frame.scriptId,
            },
          );
          sources.set(frame.scriptId, moduleIndex(scriptSource));
        } catch {
          sources.set(frame.scriptId, () => frame.url || "(unknown)");
        }
      }
      return sources.get(frame.scriptId)!(frame.lineNumber);
    };
    const self = new Map<number, number>();
    for (let i = 0; i < profile.samples.length; i++) {
      const node = profile.samples[i]!;
      self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
    }
    const byModule = new Map<string, number>();
    const byFunction = new Map<string, number>();
    let busyUs = 0;
    for (const node of profile.nodes) {
      const us = self.get(node.id) ?? 0;
      if (!us) continue;
      const { functionName, lineNumber } = node.callFrame;
      if (functionName === "(idle)") continue;
      busyUs += us;
      const special = functionName.startsWith("(") ? functionName : null;
      const module = special ?? (await moduleOf(node.callFrame));
      byModule.set(module, (byModule.get(module) ?? 0) + us);
      const fn = special ?? `${functionName || "(anonymous)"} ${module}:${lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    }
    const sorted = (m: Map<string, number>) =>
      [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000] as [string, number]);
    return {
      wallMs: (profile.endTime - profile.startTime) / 1000,
      busyMs: busyUs / 1000,
      byModule: sorted(byModule),
      byFunction: sorted(byFunction),
    };
  } finally {
    inspector.close();
  }
}

export function formatProfile(title: string, p: ProfileSummary, top = 12): string {
  const pct = (ms: number) => `${((100 * ms) / p.busyMs).toFixed(1)}%`;
  const lines = [
    `${title}: ${p.busyMs.toFixed(0)} ms of samples outside "(idle)" in ${p.wallMs.toFixed(0)} ms profiled.`,
    "  workerd does not mark the isolate idle while it waits, so waits count too and the profiler slows",
    "  everything down: read the shares as relative weights, not as CPU time.",
    "  self time by module:",
    ...p.byModule
      .slice(0, top)
      .map(([k, ms]) => `    ${ms.toFixed(1).padStart(8)} ms ${pct(ms).padStart(6)}  ${k}`),
    "  self time by function:",
    ...p.byFunction
      .slice(0, top)
      .map(([k, ms]) => `    ${ms.toFixed(1).padStart(8)} ms ${pct(ms).padStart(6)}  ${k}`),
  ];
  return lines.join("\n");
}
