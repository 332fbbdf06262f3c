import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { MockControlPlane } from "./helpers/mock-control-plane";

const run = promisify(execFile);
const agentRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bundle = join(agentRoot, "dist", "comfy-edge-agent.mjs");
/** The host's own Node 20, not the Node 22 the repository's tools run on: the bundle must run there. */
const SYSTEM_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
/** A bare environment: nothing installed, no NODE_PATH, no npm. */
const bareEnv = { PATH: "/usr/bin:/bin", HOME: tmpdir() };

beforeAll(async () => {
  await run(process.execPath, [join(agentRoot, "build.mjs")], { cwd: tmpdir() });
}, 60_000);

describe("the bundled agent", () => {
  it("runs on the system Node with nothing installed: --help and --version", async () => {
    const { stdout: version } = await run(SYSTEM_NODE, ["--version"]);
    expect(version).toMatch(/^v2\d\./);
    const help = await run(SYSTEM_NODE, [bundle, "--help"], { cwd: tmpdir(), env: bareEnv });
    expect(help.stdout).toContain("--server");
    expect(help.stdout).toContain("COMFYUI_URL");
    const agentVersion = await run(SYSTEM_NODE, [bundle, "--version"], { cwd: tmpdir(), env: bareEnv });
    expect(agentVersion.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("carries zod/mini only, not full zod with its locales", () => {
    const text = readFileSync(bundle, "utf8");
    expect(text).toContain('"ZodMiniObject"');
    expect(text).not.toContain('"ZodObject"');
    // English only, of zod's forty-odd locales (this is Dutch).
    expect(text).not.toContain("Ongeldige invoer");
  });

  it("loads Node's builtins with require(): an imported one gets an ES module facade (node:http's loads undici)", () => {
    const imports = readFileSync(bundle, "utf8").match(/^import .*$/gm);
    expect(imports).toEqual(['import { createRequire as __agentCreateRequire } from "node:module";']);
  });

  it("exits 2 with the flag's name on bad configuration", async () => {
    const concurrency = ["--server", "https://x", "--token", "t", "--upload-concurrency", "0"];
    const zero = await run(SYSTEM_NODE, [bundle, ...concurrency], { env: bareEnv }).catch((e) => e);
    expect(zero.code).toBe(2);
    // zod's English issue text, not mini's bare "Invalid input".
    expect(zero.stderr).toContain("--upload-concurrency / COMFY_EDGE_UPLOAD_CONCURRENCY: Too small");
    const failed = await run(SYSTEM_NODE, [bundle, "--server", "nope"], { env: bareEnv }).catch((e) => e);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/--server \/ COMFY_EDGE_SERVER/);
  });

  describe("against a control plane", () => {
    let mock: MockControlPlane;
    let sim: ComfySimulator;

    beforeAll(async () => {
      mock = await MockControlPlane.start();
      sim = await startComfySimulator();
    });

    afterAll(async () => {
      await mock.close();
      await sim.close();
    });

    function startBundledAgent(node = SYSTEM_NODE) {
      const child = spawn(node, [bundle, "--log-level", "info"], {
        cwd: tmpdir(),
        env: {
          ...bareEnv,
          COMFY_EDGE_SERVER: mock.url,
          COMFY_EDGE_TOKEN: "tok",
          COMFYUI_URL: sim.url,
          COMFY_EDGE_STATE_DIR: mkdtempSync(join(tmpdir(), "agent-bundle-")),
        },
      });
      const output = { stderr: "" };
      child.stderr.on("data", (chunk) => {
        output.stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      return { child, output, exited };
    }

    it("connects, says hello, and exits 3 when its machine is revoked", async () => {
      const hellos = mock.all("hello").length;
      const { output, exited } = startBundledAgent();
      const hello = await mock.until(() => mock.all("hello")[hellos], "hello from the bundle", 10_000);
      expect(hello.agent.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(hello.agent.node_version).toMatch(/^v2\d\./);
      expect(hello.instances[0]).toMatchObject({ comfy_url: sim.url, available: true });
      mock.socket?.close(4001, "machine deleted");
      expect(await exited).toBe(3);
      expect(output.stderr).toMatch(/revoked/);
    });

    it.skipIf(typeof (process as { execve?: unknown }).execve !== "function")(
      "started by a Node that can, runs itself with its V8 flags, in the same process",
      async () => {
        const hellos = mock.all("hello").length;
        const { child, exited } = startBundledAgent(process.execPath);
        await mock.until(() => mock.all("hello")[hellos], "hello from the bundle", 10_000);
        const commandLine = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0");
        expect(commandLine.slice(0, 4)).toEqual([
          process.execPath,
          "--max-semi-space-size=1",
          "--v8-pool-size=1",
          bundle,
        ]);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      },
    );

    it("shuts down on SIGTERM: draining heartbeat, close 1000, exit 0", async () => {
      const hellos = mock.all("hello").length;
      const { child, output, exited } = startBundledAgent();
      await mock.until(() => mock.all("hello")[hellos], "hello from the bundle", 10_000);
      const closed = new Promise<number>((resolve) => mock.socket?.once("close", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(await closed).toBe(1000);
      expect(mock.all("heartbeat").some((beat) => beat.draining)).toBe(true);
      expect(output.stderr).toMatch(/SIGTERM received/);
    });
  });
});
