// What `npm start` takes from its environment, checked before anything starts: a bad setting stops it
// with a message naming the setting, rather than failing later inside a half-started system.

export class StartConfigError extends Error {}

const DEFAULT_COMFYUI_URL = "http://127.0.0.1:8188";
const DEFAULT_SIM_PORT = 8188;
/** The Worker takes any bearer starting `ce_live_` as an API key; anything else is read as a JWT. */
const API_KEY_SHAPE = /^ce_live_[A-Za-z0-9_-]{16,}$/;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** True when `key` has the shape of an API key the control plane accepts. */
export const isDevApiKey = (key) => typeof key === "string" && API_KEY_SHAPE.test(key);

function port(name, value, fallback) {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new StartConfigError(`${name} must be a port number (1–65535), got "${value}".`);
  return n;
}

function comfyUrl(value) {
  if (value === undefined || value === "") return { url: DEFAULT_COMFYUI_URL, explicit: false };
  let parsed;
  try {
    parsed = new URL(value);
  } catch {
    parsed = null;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol))
    throw new StartConfigError(`COMFYUI_URL must be one http(s) URL of a ComfyUI, got "${value}".`);
  return { url: value.replace(/\/+$/, ""), explicit: true };
}

function devApiKey(value) {
  if (value === undefined || value === "") return undefined;
  if (!isDevApiKey(value))
    throw new StartConfigError(
      "COMFY_EDGE_DEV_API_KEY must look like an API key: `ce_live_` followed by at least 16 letters, " +
        "digits, `-` or `_` (the control plane reads any other bearer as a login token). " +
        "Unset it to use the key npm start generated.",
    );
  return value;
}

/** Reads and checks `npm start`'s settings; throws StartConfigError naming the first bad one. */
export function readStartConfig(env = process.env) {
  const comfy = comfyUrl(env.COMFYUI_URL);
  return {
    port: port("PORT", env.PORT, 8787),
    comfyUrl: comfy.url,
    comfyUrlExplicit: comfy.explicit,
    simPort: port("COMFY_SIM_PORT", env.COMFY_SIM_PORT, undefined),
    devApiKey: devApiKey(env.COMFY_EDGE_DEV_API_KEY),
  };
}

/**
 * Where the bundled simulator goes when nothing answers at COMFYUI_URL: COMFY_SIM_PORT when set,
 * else where COMFYUI_URL points if that is this machine, else 127.0.0.1:8188. `moved` says why it is
 * not where COMFYUI_URL points, so the start can say so plainly.
 */
export function simulatorPlacement(config) {
  const target = new URL(config.comfyUrl);
  const local = target.protocol === "http:" && LOOPBACK_HOSTS.has(target.hostname);
  const targetPort = Number(target.port || 80);
  const placement = (simPort, moved) => {
    const url = new URL(local ? target.origin : "http://127.0.0.1");
    url.port = String(simPort);
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port: simPort, url: url.origin, moved };
  };
  if (config.simPort !== undefined && (!local || config.simPort !== targetPort))
    return placement(config.simPort, `COMFY_SIM_PORT is ${config.simPort}`);
  if (local) return placement(targetPort, null);
  return placement(DEFAULT_SIM_PORT, `${config.comfyUrl} is not on this machine`);
}
