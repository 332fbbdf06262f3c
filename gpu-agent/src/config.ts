import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod/mini";

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Says "required" for a missing setting instead of zod's type complaint. */
const required = {
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "required" : undefined),
};

const httpUrl = z.pipe(
  z.string(required).check(
    z.trim(),
    z.refine(
      (value) => /^(https?|wss?):\/\//.test(value) && URL.canParse(value),
      "must be an http(s) or ws(s) URL",
    ),
  ),
  z.transform((value: string) => value.replace(/\/+$/, "")),
);

/** A comma-separated string or a list (from the config file), as trimmed non-empty items. */
const list = z.pipe(
  z.union([z.string(), z.array(z.string())]),
  z.transform((value: string | string[]) =>
    (Array.isArray(value) ? value : value.split(",")).map((item) => item.trim()).filter(Boolean),
  ),
);

const comfyUrls = z.pipe(
  list,
  z
    .array(httpUrl.check(z.refine((url) => url.startsWith("http"), "must be an http(s) URL")))
    .check(z.minLength(1), z.maxLength(64)),
);

const flag = z.pipe(
  z.union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])]),
  z.transform((value) => value === true || value === "true" || value === "1" || value === "yes"),
);

const positiveInt = () => z.coerce.number().check(z.int(), z.positive());
const nonNegativeInt = () => z.coerce.number().check(z.int(), z.nonnegative());

/** The agent's settings, merged from flags, then env, then the JSON config file, then defaults. */
export const AgentConfig = z
  .object({
    server: httpUrl,
    token: z.string(required).check(z.trim(), z.minLength(1)),
    comfy: z._default(comfyUrls, ["http://127.0.0.1:8188"]),
    /** ComfyUI's base directory per instance (the folder holding input/, output/, temp/), for cleanup. */
    comfyDir: z.optional(list),
    stateDir: z._default(z.string().check(z.minLength(1)), join(homedir(), ".comfy-edge-agent")),
    heartbeatMs: z.optional(positiveInt()),
    progressThrottleMs: z._default(nonNegativeInt(), 250),
    uploadConcurrency: z._default(positiveInt().check(z.maximum(32)), 4),
    maxInputMb: z._default(positiveInt(), 100),
    shutdownGraceS: z._default(nonNegativeInt(), 120),
    comfyDownS: z._default(positiveInt(), 30),
    allowPrivateInputs: z._default(flag, false),
    modelDownloads: z._default(positiveInt().check(z.maximum(16)), 2),
    modelDiskReserveMb: z._default(nonNegativeInt(), 1024),
    logLevel: z._default(z.enum(LOG_LEVELS), "info"),
  })
  .check(
    z.refine((config) => !config.comfyDir || config.comfyDir.length === config.comfy.length, {
      path: ["comfyDir"],
      message: "give one directory per ComfyUI URL, in the same order",
    }),
  );
export type AgentConfig = z.output<typeof AgentConfig>;

type Key = keyof z.input<typeof AgentConfig>;

interface OptionSpec {
  key: Key;
  flag: string;
  env: string;
  file: string;
  boolean?: true;
  help: string;
}

const OPTIONS: OptionSpec[] = [
  {
    key: "server",
    flag: "server",
    env: "COMFY_EDGE_SERVER",
    file: "server",
    help: "Control plane URL, e.g. https://comfy-edge.example.com (required)",
  },
  {
    key: "token",
    flag: "token",
    env: "COMFY_EDGE_TOKEN",
    file: "token",
    help: "Machine token from POST /api/machine/custom (required)",
  },
  {
    key: "comfy",
    flag: "comfy",
    env: "COMFYUI_URL",
    file: "comfy",
    help: "ComfyUI URL(s), comma-separated; one instance per URL (default http://127.0.0.1:8188)",
  },
  {
    key: "comfyDir",
    flag: "comfy-dir",
    env: "COMFYUI_DIR",
    file: "comfy_dir",
    help: "ComfyUI's base directory (holding input/, output/, temp/), comma-separated, one per --comfy URL; lets the agent remove the files its runs leave there",
  },
  {
    key: "stateDir",
    flag: "state-dir",
    env: "COMFY_EDGE_STATE_DIR",
    file: "state_dir",
    help: "Directory for the report outbox and the running jobs' journal (default ~/.comfy-edge-agent)",
  },
  {
    key: "heartbeatMs",
    flag: "heartbeat-ms",
    env: "COMFY_EDGE_HEARTBEAT_MS",
    file: "heartbeat_ms",
    help: "Heartbeat interval override in ms (default: what the server's welcome says)",
  },
  {
    key: "progressThrottleMs",
    flag: "progress-throttle-ms",
    env: "COMFY_EDGE_PROGRESS_THROTTLE_MS",
    file: "progress_throttle_ms",
    help: "Minimum ms between progress reports of one run (default 250)",
  },
  {
    key: "uploadConcurrency",
    flag: "upload-concurrency",
    env: "COMFY_EDGE_UPLOAD_CONCURRENCY",
    file: "upload_concurrency",
    help: "Outputs uploaded in parallel per run (default 4)",
  },
  {
    key: "maxInputMb",
    flag: "max-input-mb",
    env: "COMFY_EDGE_MAX_INPUT_MB",
    file: "max_input_mb",
    help: "Largest input file fetched for a run, in MiB (default 100)",
  },
  {
    key: "shutdownGraceS",
    flag: "shutdown-grace-s",
    env: "COMFY_EDGE_SHUTDOWN_GRACE_S",
    file: "shutdown_grace_s",
    help: "On SIGTERM, seconds to let running jobs finish before handing them back (default 120)",
  },
  {
    key: "comfyDownS",
    flag: "comfy-down-s",
    env: "COMFY_EDGE_COMFY_DOWN_S",
    file: "comfy_down_s",
    help: "Seconds a ComfyUI may stay unreachable during a run before the run is handed back (default 30)",
  },
  {
    key: "allowPrivateInputs",
    flag: "allow-private-inputs",
    env: "COMFY_EDGE_ALLOW_PRIVATE_INPUTS",
    file: "allow_private_inputs",
    boolean: true,
    help: "Allow input and model download URLs on private, loopback and link-local addresses (default off)",
  },
  {
    key: "modelDownloads",
    flag: "model-downloads",
    env: "COMFY_EDGE_MODEL_DOWNLOADS",
    file: "model_downloads",
    help: "Model downloads run at once; more wait their turn (default 2)",
  },
  {
    key: "modelDiskReserveMb",
    flag: "model-disk-reserve-mb",
    env: "COMFY_EDGE_MODEL_DISK_RESERVE_MB",
    file: "model_disk_reserve_mb",
    help: "MiB a model download must leave free on ComfyUI's disk (default 1024)",
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "COMFY_EDGE_LOG_LEVEL",
    file: "log_level",
    help: "debug | info | warn | error (default info)",
  },
];

export const HELP_TEXT = [
  "comfy-edge-agent: runs comfy-edge jobs on the ComfyUI instances of this GPU host.",
  "",
  "Usage: comfy-edge-agent --server URL --token TOKEN [--comfy URL[,URL…]] [options]",
  "",
  "Options (flag, then environment variable; flags win over env, env over the config file):",
  ...OPTIONS.map((o) => `  --${o.flag}${o.boolean ? "" : " VALUE"}\n      ${o.env}. ${o.help}`),
  "  --config FILE\n      COMFY_EDGE_CONFIG. JSON file with the same settings in snake_case, e.g.",
  '      {"server": "https://…", "token": "ce_mach_…", "comfy": ["http://127.0.0.1:8188"]}',
  "  --help      Show this help.",
  "  --version   Print the agent version.",
  "",
].join("\n");

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type CliCommand = { kind: "help" } | { kind: "version" } | { kind: "run"; config: AgentConfig };

/** Parses argv (without node and script) and env into a command; throws ConfigError on bad input. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliCommand {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (parsed.values.help) return { kind: "help" };
  if (parsed.values.version) return { kind: "version" };

  const configPath = (parsed.values.config as string | undefined) ?? env.COMFY_EDGE_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  const raw: Partial<Record<Key, unknown>> = {};
  for (const option of OPTIONS) {
    const value = parsed.values[option.flag] ?? env[option.env] ?? file[option.file];
    if (value !== undefined && value !== "") raw[option.key] = value;
  }
  const result = AgentConfig.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const option = OPTIONS.find((o) => o.key === issue.path[0]);
      const name = option ? `--${option.flag} / ${option.env}` : issue.path.join(".");
      return `  ${name}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${problems.join("\n")}\n(see --help)`);
  }
  return { kind: "run", config: result.data };
}

function parseFlags(argv: string[]) {
  const options: Record<string, { type: "string" | "boolean" }> = {
    config: { type: "string" },
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const o of OPTIONS) options[o.flag] = { type: o.boolean ? "boolean" : "string" };
  return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  const known = new Set(OPTIONS.map((o) => o.file));
  const unknown = Object.keys(value).filter((key) => !known.has(key));
  if (unknown.length > 0)
    throw new ConfigError(`config file ${path} has unknown keys: ${unknown.join(", ")}`);
  return value as Record<string, unknown>;
}
