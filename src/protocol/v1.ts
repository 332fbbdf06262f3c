import * as z from "zod/mini";
import { ApiGraph, InputBinding } from "./graph";

/**
 * Agent link, protocol v1: one WebSocket per agent (`GET /api/agent/v1/connect`), JSON text frames,
 * each one of the messages below. docs/agent-protocol.md describes them one by one.
 *
 * Written with `zod/mini` (functions, not methods), so the agent bundle carries only the parts of zod
 * it uses; the Worker parses with the same schemas. Their types are those of full zod.
 */
export const PROTOCOL_VERSION = 1;

const RunId = z.string().check(z.minLength(1), z.maxLength(64));
const LeaseToken = z.string().check(z.minLength(1), z.maxLength(128));
const EventId = z.string().check(z.minLength(1), z.maxLength(128));

export const Gpu = z.object({
  index: z.int(),
  name: z.string(),
  uuid: z.optional(z.string()),
  memory_total_mb: z.optional(z.number()),
  memory_used_mb: z.optional(z.number()),
  utilization_percent: z.optional(z.number()),
  temperature_c: z.optional(z.number()),
  driver_version: z.optional(z.string()),
});

const NonNegative = z.number().check(z.gte(0));
const NonNegativeInt = z.int().check(z.gte(0));
const PositiveInt = z.int().check(z.gt(0));

/** The host's load, sent with each heartbeat (all optional: an agent reports what it can read). */
export const SystemLoad = z.object({
  cpu_percent: z.optional(z.number().check(z.gte(0), z.lte(100))),
  memory_used_mb: z.optional(NonNegative),
  memory_total_mb: z.optional(NonNegative),
  disk_used_gb: z.optional(NonNegative),
  disk_total_gb: z.optional(NonNegative),
});
export type SystemLoad = z.infer<typeof SystemLoad>;

const Sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/));

/**
 * One file of a ComfyUI's model folders (`GET /models/{folder}`). Size, modification time (ms since the
 * epoch) and SHA-256 come only from agents that know ComfyUI's directory; the SHA-256 only once the agent
 * has hashed the file (in the background, cached by path, size and mtime).
 */
export const ModelFile = z.object({
  folder: z.string().check(z.minLength(1), z.maxLength(128)),
  name: z.string().check(z.minLength(1), z.maxLength(1024)),
  size_bytes: z.optional(NonNegativeInt),
  modified_at: z.optional(NonNegativeInt),
  sha256: z.optional(Sha256),
});
export type ModelFile = z.infer<typeof ModelFile>;

/**
 * What `models_hash` is the SHA-256 (hex) of: the files in the order sent, each as a fixed-order
 * array, so both ends compute it the same way whatever order a JSON parser keeps keys in.
 */
export function modelsDigestInput(models: readonly ModelFile[]): string {
  return JSON.stringify(
    models.map((m) => [m.folder, m.name, m.size_bytes ?? null, m.modified_at ?? null, m.sha256 ?? null]),
  );
}

export const InstanceInfo = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(64)),
  comfy_url: z.string(),
  available: z.boolean(),
  reason: z.optional(z.string()),
  system_stats: z.optional(z.record(z.string(), z.unknown())),
  node_classes: z.optional(z.array(z.string()).check(z.maxLength(20_000))),
  /** Free and total bytes where this ComfyUI's input/output/temp folders are (agents that know its directory). */
  disk: z.optional(z.object({ free_bytes: NonNegative, total_bytes: NonNegative })),
  /** sha256 (hex) of `JSON.stringify` of the instance's `GET /object_info`; see `object_info`. */
  object_info_hash: z.optional(Sha256),
  /** The hash of the instance's model inventory (see `modelsDigestInput` and the `models` message). */
  models_hash: z.optional(Sha256),
});

export const InFlightJob = z.object({
  run_id: RunId,
  lease_token: LeaseToken,
  instance_id: z.string(),
  prompt_id: z.optional(z.string()),
});

export const RunOutput = z.object({
  node_id: z.string(),
  kind: z.enum(["images", "gifs", "videos", "audio", "text", "files"]),
  filename: z.string(),
  subfolder: z._default(z.string(), ""),
  type: z._default(z.string(), "output"),
  content_type: z.string(),
  size: NonNegativeInt,
  /** The R2 key the agent uploaded to (from an `upload_urls` grant); absent for text outputs. */
  key: z.optional(z.string()),
  text: z.optional(z.string()),
});
export type RunOutput = z.infer<typeof RunOutput>;

export const RunFailure = z.object({
  code: z.enum([
    "validation_error",
    "execution_error",
    "comfy_unavailable",
    "input_error",
    "upload_error",
    "agent_error",
  ]),
  message: z.string(),
  node_id: z.optional(z.string()),
  node_type: z.optional(z.string()),
  exception_type: z.optional(z.string()),
  traceback: z.optional(z.array(z.string())),
  node_errors: z.optional(z.record(z.string(), z.unknown())),
  /**
   * ComfyUI's own `error` of a refused prompt, verbatim: its `type` (`prompt_outputs_failed_validation`,
   * `prompt_no_outputs`, `invalid_prompt`, …), `message`, `details` and `extra_info`.
   */
  comfy_error: z.optional(
    z.looseObject({
      type: z.string(),
      message: z.string(),
      details: z.optional(z.string()),
      extra_info: z.optional(z.record(z.string(), z.unknown())),
    }),
  ),
});
export type RunFailure = z.infer<typeof RunFailure>;

export const Progress = z.object({
  percentage: z.number().check(z.gte(0), z.lte(100)),
  nodes_done: NonNegativeInt,
  nodes_total: NonNegativeInt,
  current_node: z.nullable(z.string()),
  current_node_type: z.optional(z.nullable(z.string())),
  step: z.nullable(NonNegativeInt),
  total_steps: z.nullable(NonNegativeInt),
  eta_seconds: z.nullable(NonNegative),
});
export type Progress = z.infer<typeof Progress>;

/** One line of a run's log. */
const LogLine = {
  level: z.enum(["DEBUG", "INFO", "WARNING", "ERROR"]),
  message: z.string().check(z.maxLength(8192)),
  node_id: z.optional(z.string()),
};
export const RunLogLine = z.object(LogLine);
export type RunLogLine = z.infer<typeof RunLogLine>;

/** Log lines a `succeeded` report may carry. */
export const MAX_FINAL_LOGS = 20;

/** What happened to a run, as the agent reports it. */
export const RunReport = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("accepted"), prompt_id: z.string() }),
  z.object({ kind: z.literal("started") }),
  z.object({ kind: z.literal("progress"), progress: Progress }),
  z.object({ kind: z.literal("log"), ...LogLine }),
  z.object({ kind: z.literal("uploading") }),
  z.object({
    kind: z.literal("succeeded"),
    outputs: z.array(RunOutput).check(z.maxLength(1000)),
    /** The run's last log lines, recorded with its success instead of as `log` reports of their own. */
    logs: z.optional(z.array(RunLogLine).check(z.maxLength(MAX_FINAL_LOGS))),
  }),
  z.object({ kind: z.literal("failed"), error: RunFailure }),
  z.object({ kind: z.literal("cancelled") }),
  /** The agent gives the job back unfinished (shutdown, instance lost); it is queued again. */
  z.object({ kind: z.literal("released"), reason: z.string() }),
]);
export type RunReport = z.infer<typeof RunReport>;

export const TERMINAL_REPORTS = new Set<RunReport["kind"]>(["succeeded", "failed", "cancelled", "released"]);

export const UploadRequestFile = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(255)),
  content_type: z.string().check(z.minLength(1), z.maxLength(255)),
  size: NonNegativeInt,
});

// ---- agent → server ----

export const HelloMessage = z.object({
  type: z.literal("hello"),
  protocol: z.literal(PROTOCOL_VERSION),
  agent: z.object({
    version: z.string(),
    hostname: z.optional(z.string()),
    os: z.optional(z.string()),
    arch: z.optional(z.string()),
    cpus: z.optional(z.number()),
    cpu_model: z.optional(z.string()),
    memory_total_mb: z.optional(z.number()),
    node_version: z.optional(z.string()),
  }),
  gpus: z._default(z.array(Gpu), []),
  instances: z.array(InstanceInfo).check(z.minLength(1), z.maxLength(64)),
  in_flight: z._default(z.array(InFlightJob), []),
});

export const HeartbeatMessage = z.object({
  type: z.literal("heartbeat"),
  leases: z._default(z.array(z.object({ run_id: RunId, lease_token: LeaseToken })), []),
  instances: z.optional(
    z.array(
      z.object({
        id: z.string(),
        available: z.boolean(),
        reason: z.optional(z.string()),
        object_info_hash: InstanceInfo.shape.object_info_hash,
        models_hash: InstanceInfo.shape.models_hash,
      }),
    ),
  ),
  gpus: z.optional(z.array(Gpu)),
  /** Disk space of each instance's folders, as in hello's `instances[].disk`; refreshed every half minute. */
  disks: z.optional(
    z.array(
      z.object({
        instance_id: z.string(),
        free_bytes: NonNegative,
        total_bytes: NonNegative,
      }),
    ),
  ),
  system: z.optional(SystemLoad),
  /** Set once the agent is shutting down: it finishes what it has and takes nothing new. */
  draining: z.optional(z.boolean()),
});

export const ReportMessage = z.object({
  type: z.literal("report"),
  event_id: EventId,
  run_id: RunId,
  lease_token: LeaseToken,
  at: z.int(),
  report: RunReport,
});

/** Content types a live preview may have: what ComfyUI's preview frames carry. */
export const PREVIEW_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
/** A preview image's largest size in bytes (ComfyUI's previews are small JPEGs, ~10–100 KB). */
export const MAX_PREVIEW_BYTES = 512 * 1024;

/**
 * A live preview of a running prompt (the sampler's latest image). Best effort and never acknowledged:
 * sent only while the link is up, throttled per run, and the control plane keeps only the newest one.
 */
export const PreviewMessage = z.object({
  type: z.literal("preview"),
  run_id: RunId,
  lease_token: LeaseToken,
  at: z.int(),
  content_type: z.enum(PREVIEW_TYPES),
  node_id: z.optional(z.string().check(z.maxLength(128))),
  /** The image, base64. */
  data: z.string().check(z.minLength(1), z.maxLength(Math.ceil(MAX_PREVIEW_BYTES / 3) * 4)),
});
export type PreviewMessage = z.infer<typeof PreviewMessage>;

export const UploadRequestMessage = z.object({
  type: z.literal("upload_request"),
  request_id: z.string().check(z.minLength(1), z.maxLength(128)),
  run_id: RunId,
  lease_token: LeaseToken,
  files: z.array(UploadRequestFile).check(z.minLength(1), z.maxLength(100)),
});

/** An instance's node definitions (`GET /object_info`), sent when the server asks for that hash. */
export const ObjectInfoMessage = z.object({
  type: z.literal("object_info"),
  instance_id: z.string().check(z.minLength(1), z.maxLength(64)),
  hash: Sha256,
  definitions: z.record(z.string(), z.unknown()),
});
export type ObjectInfoMessage = z.infer<typeof ObjectInfoMessage>;

/** An instance's model inventory, sent when the server's copy does not have that `models_hash`. */
export const ModelsMessage = z.object({
  type: z.literal("models"),
  instance_id: z.string().check(z.minLength(1), z.maxLength(64)),
  hash: Sha256,
  models: z.array(ModelFile).check(z.maxLength(2000)),
});
export type ModelsMessage = z.infer<typeof ModelsMessage>;

/** A model folder of ComfyUI (`checkpoints`, `loras`, …): one plain path segment. */
export const ModelFolder = z.string().check(z.regex(/^[a-z0-9_]{1,64}$/));

/**
 * A model file's name inside its folder, as ComfyUI lists it: plain segments joined by `/` (a subfolder
 * is allowed), never `.`, `..`, a backslash, a leading `/` or a control character.
 */
export const ModelName = z.string().check(
  z.minLength(1),
  z.maxLength(512),
  z.refine(
    (name: string) => name.split("/").every(isPlainSegment),
    "must be a file name (plain segments joined by /, no . or .. segment, no backslash)",
  ),
);

function isPlainSegment(segment: string): boolean {
  if (segment.length === 0 || segment.length > 255 || segment === "." || segment === "..") return false;
  return ![...segment].some((char) => char === "\\" || char.charCodeAt(0) < 32);
}

const DownloadId = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/));
const RemovalId = z.string().check(z.minLength(1), z.maxLength(128));

/** How far a model download got; sent at most about once a second per download, never acknowledged. */
export const ModelDownloadProgressMessage = z.object({
  type: z.literal("model_download_progress"),
  download_id: DownloadId,
  bytes_done: NonNegativeInt,
  /** Null while the source has not said how large the file is. */
  bytes_total: z.nullable(NonNegativeInt),
});
export type ModelDownloadProgressMessage = z.infer<typeof ModelDownloadProgressMessage>;

/** A download's end: the file landed (verified, renamed into place), or it failed and left nothing. */
export const ModelDownloadResultMessage = z.discriminatedUnion("status", [
  z.object({
    type: z.literal("model_download_result"),
    download_id: DownloadId,
    status: z.literal("completed"),
    sha256: Sha256,
    size_bytes: NonNegativeInt,
  }),
  z.object({
    type: z.literal("model_download_result"),
    download_id: DownloadId,
    status: z.literal("failed"),
    error: z.string().check(z.maxLength(2000)),
  }),
]);
export type ModelDownloadResultMessage = z.infer<typeof ModelDownloadResultMessage>;

/** What a `model_delete` or `model_cleanup` removed from disk, and what it kept and why. */
export const ModelsRemovedMessage = z.object({
  type: z.literal("models_removed"),
  request_id: RemovalId,
  removed: z
    .array(z.object({ folder: z.string(), name: z.string(), size_bytes: z.number() }))
    .check(z.maxLength(2000)),
  kept: z
    .array(z.object({ folder: z.string(), name: z.string(), reason: z.string() }))
    .check(z.maxLength(2000)),
});
export type ModelsRemovedMessage = z.infer<typeof ModelsRemovedMessage>;

export const AgentMessage = z.discriminatedUnion("type", [
  HelloMessage,
  HeartbeatMessage,
  ReportMessage,
  UploadRequestMessage,
  PreviewMessage,
  ObjectInfoMessage,
  ModelsMessage,
  ModelDownloadProgressMessage,
  ModelDownloadResultMessage,
  ModelsRemovedMessage,
]);
export type AgentMessage = z.infer<typeof AgentMessage>;
export type HelloMessage = z.infer<typeof HelloMessage>;
export type ReportMessage = z.infer<typeof ReportMessage>;

// ---- server → agent ----

/**
 * What one agent connection may send (token buckets): `messages` and `bytes` at once, refilled at the
 * per-second rates. The welcome carries it so the agent paces itself under the budget it is given.
 */
export const SendBudget = z.object({
  messages: PositiveInt,
  messages_per_second: PositiveInt,
  bytes: PositiveInt,
  bytes_per_second: PositiveInt,
});
export type SendBudget = z.infer<typeof SendBudget>;

/** The budget the control plane gives each agent connection, and what an agent assumes without one. */
// Sized for a box of 8 GPUs relaying every sampler step with a preview (8 × ~10 steps/s × 2 frames):
// pacing should only ever coalesce a misbehaving or unusually fast agent's progress, never a normal one's.
export const AGENT_SEND_BUDGET: SendBudget = {
  messages: 400,
  messages_per_second: 200,
  bytes: 16 * 1024 * 1024,
  bytes_per_second: 1024 * 1024,
};

export const WelcomeMessage = z.object({
  type: z.literal("welcome"),
  machine_id: z.string(),
  heartbeat_interval_ms: PositiveInt,
  lease_ttl_ms: PositiveInt,
  /** Absent from servers older than the field: the agent then assumes `AGENT_SEND_BUDGET`. */
  budget: z.optional(SendBudget),
  /** Which of the jobs the agent listed as in flight it should keep; the rest it must stop. */
  keep: z.array(RunId),
  drop: z.array(RunId),
});

export const JobMessage = z.object({
  type: z.literal("job"),
  run_id: RunId,
  lease_token: LeaseToken,
  lease_expires_at: z.int(),
  attempt: PositiveInt,
  instance_id: z.string(),
  graph: ApiGraph,
  /** Each bound scalar input's final value, defaults applied: the agent writes them as they are. */
  inputs: z.record(z.string(), z.unknown()),
  bindings: z.array(InputBinding),
  /**
   * Each file input, resolved by the control plane: an http(s) URL (file ids become signed URLs) or a
   * data URI to fetch and upload to ComfyUI, or the name of a file already in ComfyUI's input folder.
   */
  input_urls: z._default(z.record(z.string(), z.string()), {}),
  deadline_at: z.nullable(z.int()),
});
export type JobMessage = z.infer<typeof JobMessage>;

/** What the control plane queues for a run and sends with each of its leases. */
/** What the Dispatcher queues for a run: the job's graph and inputs, and where it may run. */
export const JobPayload = z.extend(
  z.pick(JobMessage, { graph: true, inputs: true, bindings: true, input_urls: true }),
  {
    /** The machine the run must run on (a deployment pinned to one); absent: any machine of the pool. */
    machine_id: z.optional(z.nullable(z.string())),
    /** A GPU the machine must report (case-insensitive substring of its name); absent: any. */
    gpu: z.optional(z.nullable(z.string())),
    /** The model files the graph names: only a ComfyUI instance whose inventory holds them all runs it. */
    models: z.optional(z.array(z.pick(ModelFile, { folder: true, name: true }))),
  },
);
export type JobPayload = z.infer<typeof JobPayload>;

export const AckMessage = z.object({
  type: z.literal("ack"),
  event_id: EventId,
  /** `ok`: applied, or already applied; `stale`: refused because the lease is no longer held. */
  status: z.enum(["ok", "stale"]),
});

export const CancelMessage = z.object({
  type: z.literal("cancel"),
  run_id: RunId,
  lease_token: LeaseToken,
  reason: z.enum(["cancelled", "timeout", "lease_lost"]),
});

export const UploadGrant = z.object({
  name: z.string(),
  key: z.string(),
  url: z.string(),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()),
});

export const UploadUrlsMessage = z.object({
  type: z.literal("upload_urls"),
  request_id: z.string(),
  files: z.array(UploadGrant),
});

export const ErrorMessage = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  request_id: z.optional(z.string()),
});

/** The server lacks the definitions behind an instance's `object_info_hash` and asks for them. */
export const ObjectInfoRequestMessage = z.object({
  type: z.literal("object_info_request"),
  instance_id: z.string(),
  hash: z.string(),
});

/** The server's inventory of an instance is not the one behind its `models_hash`: send it. */
export const ModelsRequestMessage = z.object({
  type: z.literal("models_request"),
  instance_id: z.string(),
  hash: z.string(),
});

/**
 * Asks the agent to call ComfyUI's `POST /free` with `unload_models: true` on these instances (all of
 * them when absent). ComfyUI has no per-model unload: this unloads every model the instance holds.
 */
export const FreeMemoryMessage = z.object({
  type: z.literal("free_memory"),
  instance_ids: z.optional(z.array(z.string())),
  /** Also ask ComfyUI to free its cached memory (`free_memory: true`). */
  free_memory: z.boolean(),
});
export type FreeMemoryMessage = z.infer<typeof FreeMemoryMessage>;

/**
 * Download a model file into ComfyUI's models folder (`<comfy dir>/models/<folder>/<name>`) from an
 * http(s) URL (the control plane signs one for a file in its storage). The agent resumes after a drop
 * with HTTP Range, verifies `sha256` when given, and renames the file into place only when complete.
 * Sent again after each hello while the download is not over: the agent treats a known id as the same
 * download (a finished one answers its result again).
 */
export const ModelDownloadMessage = z.object({
  type: z.literal("model_download"),
  download_id: DownloadId,
  folder: ModelFolder,
  name: ModelName,
  url: z.string().check(z.regex(/^https?:\/\//i)),
  sha256: z.optional(Sha256),
});
export type ModelDownloadMessage = z.infer<typeof ModelDownloadMessage>;

/** Delete one model file from disk on every instance of the machine (never one a running job uses). */
export const ModelDeleteMessage = z.object({
  type: z.literal("model_delete"),
  request_id: RemovalId,
  folder: ModelFolder,
  name: ModelName,
});
export type ModelDeleteMessage = z.infer<typeof ModelDeleteMessage>;

/** Delete least-recently-used model files until each models folder holds at most `budget_bytes`. */
export const ModelCleanupMessage = z.object({
  type: z.literal("model_cleanup"),
  request_id: RemovalId,
  budget_bytes: NonNegativeInt,
});
export type ModelCleanupMessage = z.infer<typeof ModelCleanupMessage>;

export const ServerMessage = z.discriminatedUnion("type", [
  WelcomeMessage,
  FreeMemoryMessage,
  ModelDownloadMessage,
  ModelDeleteMessage,
  ModelCleanupMessage,
  ObjectInfoRequestMessage,
  ModelsRequestMessage,
  JobMessage,
  AckMessage,
  CancelMessage,
  UploadUrlsMessage,
  ErrorMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Close codes the server uses, so the agent knows whether reconnecting can help. */
export const CloseCode = {
  replaced: 4000,
  revoked: 4001,
  protocol_error: 4002,
  /** The agent kept sending past its message budget; reconnecting later (with backoff) is fine. */
  over_budget: 4003,
} as const;
