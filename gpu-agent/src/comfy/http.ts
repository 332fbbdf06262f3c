import type { Readable } from "node:stream";
import type * as z from "zod/mini";
import { type HttpReply, multipartBody, sendRequest } from "../http-request";
import {
  ComfyError,
  ComfyHttpError,
  ComfyProtocolError,
  ComfyUnreachableError,
  ComfyValidationError,
} from "./errors";
import {
  type HistoryEntry,
  HistoryReply,
  NameList,
  ObjectInfoReply,
  PromptAccepted,
  PromptRejected,
  QueueReply,
  type QueueState,
  SystemStats,
  type UploadedFile,
  UploadReply,
} from "./schemas";

/** An API-format graph: node id → `{class_type, inputs}`. */
export type PromptGraph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** A file in one of ComfyUI's folders, as /history and /view name it. */
export interface ComfyFileRef {
  filename: string;
  subfolder: string;
  type: string;
}

/** An open GET /view download. The body streams; nothing is read into memory here. */
export interface ComfyDownload {
  body: Readable;
  contentType: string;
  /** From Content-Length; null when the server did not say. */
  size: number | null;
}

export interface ComfyHttpOptions {
  /** e.g. `http://127.0.0.1:8188` */
  baseUrl: string;
  /** The limit for one request, reply included. Default 10 s. */
  timeoutMs?: number;
  /** Uploads and /object_info (megabytes on a real install) get longer. Default 120 s. */
  slowTimeoutMs?: number;
}

interface RequestOptions {
  method?: "GET" | "POST";
  json?: unknown;
  multipart?: { body: Buffer; contentType: string };
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * ComfyUI's HTTP API. Every call is bounded by a timeout (and the caller's signal), so none can hang;
 * network failures and timeouts throw ComfyUnreachableError, other statuses ComfyHttpError.
 */
export class ComfyHttp {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly slowTimeoutMs: number;

  constructor(options: ComfyHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.slowTimeoutMs = options.slowTimeoutMs ?? 120_000;
  }

  /** POST /prompt. Throws ComfyValidationError when ComfyUI refuses the graph. */
  async submitPrompt(
    graph: PromptGraph,
    options: {
      clientId: string;
      promptId?: string;
      extraData?: Record<string, unknown>;
      signal?: AbortSignal;
    },
  ): Promise<{ prompt_id: string; number: number }> {
    const json = {
      prompt: graph,
      client_id: options.clientId,
      ...(options.promptId ? { prompt_id: options.promptId } : {}),
      ...(options.extraData ? { extra_data: options.extraData } : {}),
    };
    return this.call("/prompt", { method: "POST", json, signal: options.signal }, async (response) => {
      if (response.status === 400) {
        const rejected = parse(PromptRejected, await readJson(response, "POST /prompt"), "POST /prompt 400");
        throw new ComfyValidationError(rejected.error, rejected.node_errors);
      }
      const accepted = parse(PromptAccepted, await readOk(response, "POST /prompt"), "POST /prompt");
      return { prompt_id: accepted.prompt_id, number: accepted.number };
    });
  }

  /** GET /history/{id}: the entry, or undefined while the prompt has not finished (or is unknown). */
  async getHistory(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined> {
    const path = `/history/${encodeURIComponent(promptId)}`;
    return (await this.getJson(path, HistoryReply, signal))[promptId];
  }

  /** GET /queue: the running and pending prompts. */
  getQueue(signal?: AbortSignal): Promise<QueueState> {
    return this.getJson("/queue", QueueReply, signal);
  }

  systemStats(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.getJson("/system_stats", SystemStats, signal);
  }

  /** The node classes this ComfyUI has (the keys of GET /object_info, megabytes on a real install). */
  async nodeClasses(signal?: AbortSignal): Promise<string[]> {
    return Object.keys(await this.objectInfo(signal));
  }

  /** GET /object_info: every node class with its inputs and outputs. */
  objectInfo(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.getJson("/object_info", ObjectInfoReply, signal, this.slowTimeoutMs);
  }

  /** GET /models: the names of ComfyUI's model folders. */
  modelFolders(signal?: AbortSignal): Promise<string[]> {
    return this.getJson("/models", NameList, signal);
  }

  /** GET /models/{folder}: the model files ComfyUI finds in that folder. */
  modelFiles(folder: string, signal?: AbortSignal): Promise<string[]> {
    return this.getJson(`/models/${encodeURIComponent(folder)}`, NameList, signal);
  }

  /**
   * GET /view of a file. The timeout covers the headers only: the body streams on for as long as the
   * caller reads it. Throws ComfyHttpError (404 and the like) when the file is not served.
   */
  view(file: ComfyFileRef, signal?: AbortSignal): Promise<ComfyDownload> {
    const query = new URLSearchParams({
      filename: file.filename,
      subfolder: file.subfolder,
      type: file.type,
    });
    return this.call(`/view?${query}`, { signal }, async (response) => {
      if (!response.ok) {
        response.discard();
        throw new ComfyHttpError(
          response.status,
          `GET /view of ${file.filename} answered HTTP ${response.status}`,
        );
      }
      const length = response.headers["content-length"];
      return {
        body: response.body,
        contentType: response.headers["content-type"] ?? "application/octet-stream",
        size: length === undefined ? null : Number(length),
      };
    });
  }

  /** POST /upload/image. Returns the name ComfyUI stored it under (it may add ` (1)`). */
  async uploadImage(
    data: Uint8Array | Blob | ReadableStream<Uint8Array>,
    filename: string,
    options: {
      subfolder?: string;
      overwrite?: boolean;
      type?: "input" | "temp" | "output";
      signal?: AbortSignal;
    } = {},
  ): Promise<UploadedFile> {
    // ComfyUI caps uploads at 100 MiB, so the file is gathered into one multipart body.
    const bytes = await gather(data);
    const fields: Record<string, string> = {};
    if (options.subfolder) fields.subfolder = options.subfolder;
    if (options.overwrite) fields.overwrite = "true";
    if (options.type) fields.type = options.type;
    const contentType = data instanceof Blob && data.type ? data.type : "application/octet-stream";
    const multipart = multipartBody(fields, { field: "image", filename, contentType, bytes });
    const request = {
      method: "POST" as const,
      multipart,
      signal: options.signal,
      timeoutMs: this.slowTimeoutMs,
    };
    return this.call("/upload/image", request, async (response) =>
      parse(UploadReply, await readOk(response, "POST /upload/image"), "POST /upload/image"),
    );
  }

  /** POST /interrupt: with a prompt id, only if that prompt is the one running; without, whatever runs. */
  async interrupt(promptId?: string, signal?: AbortSignal): Promise<void> {
    const json = promptId ? { prompt_id: promptId } : undefined;
    await this.call("/interrupt", { method: "POST", json, signal }, (response) =>
      readOk(response, "POST /interrupt"),
    );
  }

  /** POST /free: ComfyUI unloads every model (and frees cached memory) between prompts. */
  async free(request: { unload_models: boolean; free_memory: boolean }, signal?: AbortSignal): Promise<void> {
    await this.call("/free", { method: "POST", json: request, signal }, (response) =>
      readOk(response, "POST /free"),
    );
  }

  /** POST /queue `{delete}`: removes these prompts if they are still pending (running ones are not touched). */
  async deleteFromQueue(promptIds: string[], signal?: AbortSignal): Promise<void> {
    const request = { method: "POST" as const, json: { delete: promptIds }, signal };
    await this.call("/queue", request, (response) => readOk(response, "POST /queue"));
  }

  private getJson<T extends z.ZodMiniType>(
    path: string,
    schema: T,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<z.output<T>> {
    return this.call(path, { signal, timeoutMs }, async (response) =>
      parse(schema, await readOk(response, `GET ${path}`), `GET ${path}`),
    );
  }

  /**
   * One request, and `read` of its reply, within the timeout and the caller's signal. Network failures
   * and timeouts become ComfyUnreachableError; a cancelled caller gets its abort reason.
   */
  private async call<T>(
    path: string,
    options: RequestOptions,
    read: (response: HttpReply) => Promise<T>,
  ): Promise<T> {
    const method = options.method ?? "GET";
    const limit = options.timeoutMs ?? this.timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limit);
    try {
      const response = await sendRequest(`${this.baseUrl}${path}`, {
        method,
        signal: options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal,
        ...requestBody(options),
      });
      return await read(response);
    } catch (error) {
      if (error instanceof ComfyError) throw error;
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const why = deadline.signal.aborted ? `no answer within ${limit} ms` : causeOf(error);
      throw new ComfyUnreachableError(`${method} ${this.baseUrl}${path}: ${why}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

function requestBody(options: RequestOptions) {
  if (options.multipart)
    return { body: options.multipart.body, headers: { "content-type": options.multipart.contentType } };
  if (options.json === undefined) return {};
  return { body: JSON.stringify(options.json), headers: { "content-type": "application/json" } };
}

async function gather(data: Uint8Array | Blob | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  const chunks: Uint8Array[] = [];
  for await (const chunk of data) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function readOk(response: HttpReply, what: string): Promise<unknown> {
  if (!response.ok) {
    const text = await response.text();
    throw new ComfyHttpError(
      response.status,
      `${what} answered HTTP ${response.status}: ${text.slice(0, 300)}`,
    );
  }
  return readJson(response, what);
}

async function readJson(response: HttpReply, what: string): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ComfyProtocolError(`${what} answered something that is not JSON: ${text.slice(0, 200)}`);
  }
}

function parse<T extends z.ZodMiniType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ComfyProtocolError(
      `${what}: unexpected reply (${result.error.issues[0]?.message ?? "invalid"})`,
    );
  }
  return result.data;
}

/** A socket error's code (ECONNREFUSED, …) says more than its message. */
function causeOf(error: unknown): string {
  const failure = error as { code?: string; message?: string };
  return failure.code ?? failure.message ?? String(error);
}
