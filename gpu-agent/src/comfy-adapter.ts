import type { ApiGraph } from "../../src/protocol/graph";
import type { Progress, RunFailure } from "../../src/protocol/v1";
import { ComfyHttpError, ComfyUnreachableError } from "./comfy/errors";
import { runPrompt as followPrompt, type RunResult } from "./comfy/execution";
import { ComfyHttp } from "./comfy/http";
import type { ComfyOutput } from "./comfy/outputs";
import type { PreviewImage } from "./comfy/preview-frames";
import { ComfySocket } from "./comfy/socket";
import { InputError } from "./inputs/bind-inputs";
import type { InstanceProbe } from "./instances";
import type { Logger } from "./log";
import type { ModelLister } from "./models/inventory";
import type { OpenOutput } from "./uploads/output-source";
import { UploadError } from "./uploads/upload-outputs";

/** What ComfyUI said while running a prompt, in the protocol's terms. */
export type PromptEvent =
  | { kind: "accepted"; promptId: string }
  | { kind: "started" }
  | { kind: "progress"; progress: Progress }
  | { kind: "preview"; preview: PreviewImage };

export type PromptResult =
  | { kind: "succeeded"; outputs: ComfyOutput[] }
  | { kind: "failed"; error: RunFailure }
  | { kind: "cancelled" };

/** ComfyUI did not answer an upload; the run is handed back (`comfy_unavailable`). */
export class ComfyUnavailableError extends Error {
  override name = "ComfyUnavailableError";
}

/** The ComfyUI operations a job needs, on one instance. */
export interface ComfyPort extends InstanceProbe, ModelLister {
  /** Uploads an input file to ComfyUI's input folder; returns the name a LoadImage input takes. */
  uploadInput(
    file: { bytes: Buffer; filename: string; contentType: string },
    signal: AbortSignal,
  ): Promise<string>;
  /**
   * Queues the graph under `prompt.id` and follows it to the end; with `prompt.attach`, follows a prompt
   * queued earlier (by this agent before it restarted) without queueing anything. Aborting `signal`
   * removes a pending prompt from the queue or interrupts it if running (that prompt only), and resolves
   * `cancelled`.
   */
  runPrompt(
    graph: ApiGraph,
    onEvent: (event: PromptEvent) => void,
    signal: AbortSignal,
    prompt: { id: string; attach: boolean },
  ): Promise<PromptResult>;
  /** GET /view of an output file, as a stream. */
  openOutput: OpenOutput;
  /** Calls `listener` each time the WebSocket to ComfyUI opens or closes (a crash shows there first). */
  onConnectionChange(listener: () => void): void;
  /** Closes the WebSocket to ComfyUI. */
  close(): void;
}

/** How quickly trouble with ComfyUI is noticed; tests shorten these. */
export interface ComfyTimings {
  requestTimeoutMs: number;
  /** With no news of a running prompt for this long, ask ComfyUI over HTTP where it is. */
  quietProbeMs: number;
  /** A prompt's ComfyUI that has not answered for this long is down: the run fails. */
  unreachableMs: number;
  socketPingMs: number;
  socketSilenceMs: number;
  socketWaitMs: number;
}

export const DEFAULT_COMFY_TIMINGS: ComfyTimings = {
  requestTimeoutMs: 10_000,
  quietProbeMs: 5_000,
  unreachableMs: 30_000,
  socketPingMs: 5_000,
  socketSilenceMs: 15_000,
  socketWaitMs: 5_000,
};

/**
 * One ComfyUI through the client in `./comfy`: its HTTP API and one WebSocket under the agent's own
 * client id, so that the events of the prompts it queues come to it.
 */
export function createComfyPort(
  url: string,
  options: { log: Logger; progressIntervalMs: number; timings: ComfyTimings },
): ComfyPort {
  const { log, timings } = options;
  const http = new ComfyHttp({ baseUrl: url, timeoutMs: timings.requestTimeoutMs });
  const socket = new ComfySocket({
    baseUrl: url,
    pingIntervalMs: timings.socketPingMs,
    silenceMs: timings.socketSilenceMs,
    log,
  });
  socket.start();

  return {
    systemStats: (signal) => http.systemStats(signal),
    objectInfo: (signal) => http.objectInfo(signal),
    modelFolders: (signal) => http.modelFolders(signal),
    modelFiles: (folder, signal) => http.modelFiles(folder, signal),
    free: (request, signal) => http.free(request, signal),

    async uploadInput(file, signal) {
      try {
        const blob = new Blob([file.bytes], { type: file.contentType });
        const stored = await http.uploadImage(blob, file.filename, { overwrite: true, signal });
        return stored.subfolder ? `${stored.subfolder}/${stored.name}` : stored.name;
      } catch (error) {
        if (error instanceof ComfyUnreachableError) throw new ComfyUnavailableError(error.message);
        if (error instanceof ComfyHttpError)
          throw new InputError(`ComfyUI refused the input file: ${error.message}`);
        throw error;
      }
    },

    async runPrompt(graph, onEvent, signal, prompt) {
      // ComfyUI's socket can beat the /prompt reply: hold events back until `accepted` is out.
      let held: PromptEvent[] | undefined = [];
      const inOrder = (event: PromptEvent) => {
        if (event.kind === "accepted") {
          onEvent(event);
          for (const early of held ?? []) onEvent(early);
          held = undefined;
        } else if (held) held.push(event);
        else onEvent(event);
      };
      const result = await followPrompt({
        http,
        socket,
        graph,
        promptId: prompt.id,
        attach: prompt.attach,
        signal,
        log,
        progressIntervalMs: options.progressIntervalMs,
        quietProbeMs: timings.quietProbeMs,
        unreachableMs: timings.unreachableMs,
        socketWaitMs: timings.socketWaitMs,
        onAccepted: (promptId) => inOrder({ kind: "accepted", promptId }),
        onStarted: () => inOrder({ kind: "started" }),
        onProgress: (progress) => inOrder({ kind: "progress", progress }),
        onPreview: (preview) => inOrder({ kind: "preview", preview }),
      });
      return promptResult(result);
    },

    async openOutput(file, signal) {
      try {
        return await http.view(file, signal);
      } catch (error) {
        // A 404 will not get better; an unreachable ComfyUI (not an UploadError) is worth a retry.
        if (error instanceof ComfyHttpError) throw new UploadError(error.message);
        throw error;
      }
    },

    onConnectionChange(listener) {
      socket.subscribe((notice) => {
        if (notice.kind === "open" || notice.kind === "closed") listener();
      });
    },

    close: () => socket.stop(),
  };
}

function promptResult(result: RunResult): PromptResult {
  switch (result.kind) {
    case "success":
      return { kind: "succeeded", outputs: result.outputs };
    case "cancelled":
      return { kind: "cancelled" };
    case "validation_error":
      return {
        kind: "failed",
        error: {
          code: "validation_error",
          message: result.error.message,
          node_errors: result.error.nodeErrors,
          comfy_error: result.error.error,
        },
      };
    case "execution_error": {
      const { failure } = result;
      return {
        kind: "failed",
        error: {
          code: "execution_error",
          message: failure.exception_message.trim(),
          node_id: failure.node_id || undefined,
          node_type: failure.node_type || undefined,
          exception_type: failure.exception_type || undefined,
          traceback: failure.traceback,
        },
      };
    }
    case "interrupted":
      return {
        kind: "failed",
        error: {
          code: "execution_error",
          message: "the prompt was interrupted in ComfyUI by someone other than comfy-edge",
          node_id: result.nodeId ?? undefined,
          node_type: result.nodeType ?? undefined,
          exception_type: "InterruptProcessingException",
        },
      };
    case "unavailable":
      return { kind: "failed", error: { code: "comfy_unavailable", message: result.message } };
  }
}
