import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, HELP_TEXT, parseCli } from "../../src/config";

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const command = parseCli(argv, env);
  if (command.kind !== "run") throw new Error(`expected run, got ${command.kind}`);
  return command.config;
};

describe("parseCli", () => {
  it("reads flags and applies defaults", () => {
    const config = run(["--server", "https://edge.example.com/", "--token", "ce_mach_x"]);
    expect(config).toMatchObject({
      server: "https://edge.example.com",
      token: "ce_mach_x",
      comfy: ["http://127.0.0.1:8188"],
      progressThrottleMs: 250,
      uploadConcurrency: 4,
      maxInputMb: 100,
      comfyDownS: 30,
      allowPrivateInputs: false,
      logLevel: "info",
    });
    expect(config.stateDir).toMatch(/\.comfy-edge-agent$/);
    expect(config.heartbeatMs).toBeUndefined();
  });

  it("takes several ComfyUI URLs, comma-separated", () => {
    const config = run(["--comfy", "http://127.0.0.1:8188, http://127.0.0.1:8189"], {
      COMFY_EDGE_SERVER: "http://localhost:8787",
      COMFY_EDGE_TOKEN: "t",
    });
    expect(config.comfy).toEqual(["http://127.0.0.1:8188", "http://127.0.0.1:8189"]);
  });

  it("takes one ComfyUI directory per URL from COMFYUI_DIR, and refuses a count that does not match", () => {
    const env = {
      COMFY_EDGE_SERVER: "http://localhost:8787",
      COMFY_EDGE_TOKEN: "t",
      COMFYUI_URL: "http://127.0.0.1:8188,http://127.0.0.1:8189",
    };
    expect(run([], { ...env, COMFYUI_DIR: "/srv/comfy-0, /srv/comfy-1" }).comfyDir).toEqual([
      "/srv/comfy-0",
      "/srv/comfy-1",
    ]);
    expect(run([], env).comfyDir).toBeUndefined();
    expect(() => run([], { ...env, COMFYUI_DIR: "/srv/comfy-0" })).toThrow(
      /--comfy-dir \/ COMFYUI_DIR: give one directory per ComfyUI URL/,
    );
  });

  it("lets flags win over env and env over the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-config-"));
    const file = join(dir, "agent.json");
    writeFileSync(
      file,
      JSON.stringify({
        server: "https://file.example",
        token: "file",
        log_level: "debug",
        upload_concurrency: 2,
      }),
    );
    const config = run(["--config", file, "--token", "flag"], {
      COMFY_EDGE_TOKEN: "env",
      COMFY_EDGE_LOG_LEVEL: "warn",
      COMFY_EDGE_ALLOW_PRIVATE_INPUTS: "1",
    });
    expect(config).toMatchObject({
      server: "https://file.example",
      token: "flag",
      logLevel: "warn",
      uploadConcurrency: 2,
      allowPrivateInputs: true,
    });
  });

  it("names the flag and env var of a bad or missing setting", () => {
    expect(() => run(["--server", "ftp://x"], {})).toThrow(/--server \/ COMFY_EDGE_SERVER.*\n.*--token/s);
    expect(() => run(["--server", "https://x", "--token", "t", "--upload-concurrency", "0"])).toThrow(
      /--upload-concurrency/,
    );
  });

  it("refuses unknown flags and unknown config-file keys", () => {
    expect(() => parseCli(["--nope"], {})).toThrow(ConfigError);
    const dir = mkdtempSync(join(tmpdir(), "agent-config-"));
    writeFileSync(join(dir, "c.json"), JSON.stringify({ sever: "typo" }));
    expect(() => parseCli(["--config", join(dir, "c.json")], {})).toThrow(/unknown keys: sever/);
  });

  it("answers --help and --version without needing settings", () => {
    expect(parseCli(["--help"], {})).toEqual({ kind: "help" });
    expect(parseCli(["--version"], {})).toEqual({ kind: "version" });
    for (const name of ["--server", "COMFY_EDGE_TOKEN", "COMFYUI_URL", "--state-dir", "--shutdown-grace-s"]) {
      expect(HELP_TEXT).toContain(name);
    }
  });
});
