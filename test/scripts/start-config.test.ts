import { describe, expect, it } from "vitest";
import { readStartConfig, simulatorPlacement } from "../../scripts/lib/start-config.mjs";
import { runScript } from "./support/run-script";

const GOOD_KEY = "ce_live_0123456789abcdefXYZ_-";

describe("npm start's settings", () => {
  it("defaults to port 8787, the ComfyUI on 127.0.0.1:8188 and a generated key", () => {
    expect(readStartConfig({})).toEqual({
      port: 8787,
      comfyUrl: "http://127.0.0.1:8188",
      comfyUrlExplicit: false,
      simPort: undefined,
      devApiKey: undefined,
    });
  });

  it("takes an API key shaped like the ones the control plane accepts", () => {
    expect(readStartConfig({ COMFY_EDGE_DEV_API_KEY: GOOD_KEY }).devApiKey).toBe(GOOD_KEY);
  });

  it.each(["secret123", "ce_live_short", "ce_mach_0123456789abcdefXYZ", "ce_live_0123456789abcdef!"])(
    "refuses the key %s, naming the setting and the rule",
    (key) => {
      expect(() => readStartConfig({ COMFY_EDGE_DEV_API_KEY: key })).toThrow(
        /COMFY_EDGE_DEV_API_KEY must look like an API key: `ce_live_`/,
      );
    },
  );

  it.each([
    ["PORT", "http"],
    ["PORT", "70000"],
    ["COMFY_SIM_PORT", "-1"],
    ["COMFYUI_URL", "127.0.0.1:8188"],
    ["COMFYUI_URL", "ftp://127.0.0.1/"],
  ])("refuses %s=%s, naming it", (name, value) => {
    expect(() => readStartConfig({ [name]: value })).toThrow(new RegExp(`^${name} must`));
  });
});

describe("where the simulator goes when no ComfyUI answers", () => {
  const place = (env: Record<string, string>) => simulatorPlacement(readStartConfig(env));

  it("goes where COMFYUI_URL points on this machine, port and host included", () => {
    expect(place({})).toEqual({ host: "127.0.0.1", port: 8188, url: "http://127.0.0.1:8188", moved: null });
    expect(place({ COMFYUI_URL: "http://localhost:9000/" })).toEqual({
      host: "localhost",
      port: 9000,
      url: "http://localhost:9000",
      moved: null,
    });
    expect(place({ COMFYUI_URL: "http://127.0.0.1:9000", COMFY_SIM_PORT: "9000" }).moved).toBeNull();
  });

  it("says why when it goes elsewhere: COMFY_SIM_PORT, or a ComfyUI on another machine", () => {
    expect(place({ COMFYUI_URL: "http://127.0.0.1:9000", COMFY_SIM_PORT: "9100" })).toEqual({
      host: "127.0.0.1",
      port: 9100,
      url: "http://127.0.0.1:9100",
      moved: "COMFY_SIM_PORT is 9100",
    });
    expect(place({ COMFYUI_URL: "http://gpu-box:8188" })).toEqual({
      host: "127.0.0.1",
      port: 8188,
      url: "http://127.0.0.1:8188",
      moved: "http://gpu-box:8188 is not on this machine",
    });
    expect(place({ COMFYUI_URL: "https://gpu-box", COMFY_SIM_PORT: "9100" }).url).toBe(
      "http://127.0.0.1:9100",
    );
  });
});

describe("npm start with a bad setting", () => {
  it("stops before anything starts, with exit code 2 and the setting's name", async () => {
    const { code, output } = await runScript("start.mjs", [], {
      ...process.env,
      COMFY_EDGE_DEV_API_KEY: "not-a-key",
      PORT: "1",
    });
    expect(code, output).toBe(2);
    expect(output).toMatch(/^npm start: COMFY_EDGE_DEV_API_KEY must look like an API key/);
  });
});
