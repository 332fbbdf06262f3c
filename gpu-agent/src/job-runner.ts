import { randomUUID } from "node:crypto";
import type * as z from "zod/mini";
import type {
  JobMessage,
  RunFailure,
  RunOutput,
  RunReport,
  UploadGrant,
  UploadRequestFile,
} from "../../src/protocol/v1";
import { markOutputNodes } from "./comfy/fresh-outputs";
import type { ComfyOutput } from "./comfy/outputs";
import type { PreviewImage } from "./comfy/preview-frames";
import { type ComfyPort, ComfyUnavailableError, type PromptEvent } from "./comfy-adapter";
import { extensionFor, sanitizeFilename } from "./filenames";
import { bindInputs, InputError, type InputPlan, planInputs } from "./inputs/bind-inputs";
import { fetchInput } from "./inputs/fetch-input";
import type { ComfyInstance } from "./instances";
import type { ComfyFile, JobJournal, JobRecord } from "./job-journal";
import type { Logger } from "./log";
import type { JobGate } from "./models/file-hasher";
import { type OutputFile, splitOutputs } from "./uploads/output-files";
import { outputOpener } from "./uploads/output-source";
import { describeOutputs, KeptSources, UploadError, uploadOutputs } from "./uploads/upload-outputs";

export interface JobSettings {
  uploadConcurrency: number;
  uploadRetryDelayMs: number;
  uploadRetryForMs: number;
  maxInputBytes: number;
  inputTimeoutMs: number;
  allowPrivateInputs: boolean;
  /** The control plane's origin: its signed input URLs may be on a private address in development. */
  trustedOrigins: string[];
}

export interface JobRunDeps {
  job: JobMessage;
  instance: ComfyInstance<ComfyPort>;
  settings: JobSettings;
  log: Logger;
  /** Resolves once the report is on disk and handed to the link. */
  report(report: RunReport): Promise<void>;
  /** Held while outputs upload, so that background transfers (model downloads) give way. */
  uploads?: Pick<JobGate, "begin" | "end">;
  requestUploadUrls(
    files: z.infer<typeof UploadRequestFile>[],
    signal: AbortSignal,
  ): Promise<z.infer<typeof UploadGrant>[]>;
  /** A live preview of the running prompt (best effort; the relay throttles and may drop it). */
  preview?(image: PreviewImage): void;
  /** ComfyUI went down or silent during the run. */
  onComfyUnavailable(reason: string): void;
  journal: Pick<JobJournal, "save" | "remove">;
  /** A run this agent queued before it restarted: follow its prompt instead of queueing it again. */
  resume?: JobRecord;
}

/** How a run is being ended from outside, and what (if anything) to report for it. */
type Ending = "cancel" | "stop" | "release";
type TerminalReport = Extract<RunReport, { kind: "succeeded" | "failed" | "cancelled" | "released" }>;

const MAX_LOG_CHARS = 8192;
const MAX_FILES_PER_UPLOAD_REQUEST = 100;

/**
 * One job on one ComfyUI instance: inputs fetched and uploaded, graph bound, prompt run and followed,
 * outputs uploaded, then exactly one final report. `done` settles when it is over, whatever happened.
 */
export class JobRun {
  readonly done: Promise<void>;
  private readonly abort = new AbortController();
  private ending: Ending | undefined;
  private finished = false;
  private finalReport: Promise<void> | undefined;
  private readonly record: JobRecord;

  constructor(private readonly deps: JobRunDeps) {
    this.record = deps.resume ?? { job: deps.job, inputs: [] };
    this.done = this.run().finally(() => this.settle());
  }

  get job(): JobMessage {
    return this.deps.job;
  }

  get promptId(): string | undefined {
    return this.record.prompt_id;
  }

  get stopping(): boolean {
    return this.ending !== undefined;
  }

  /** Its final report is made (or none is due): only its clean-up is left before `done`. */
  get over(): boolean {
    return this.finished;
  }

  /** The control plane cancelled the run (or it timed out): stop it in ComfyUI, report `cancelled`. */
  cancel(): void {
    this.end("cancel");
  }

  /** The lease is gone: stop the run and report nothing, since no report of it would count. */
  stop(): void {
    this.end("stop");
  }

  /**
   * Hands the run back unfinished (shutdown): reports `released` at once, so the run is queued again
   * even if ComfyUI takes long to stop, then stops it in ComfyUI.
   */
  release(reason: string): Promise<void> {
    // A run already being cancelled or stopped ends as that.
    if (this.ending || this.finished) return this.done;
    this.end("release");
    this.finish({ kind: "released", reason });
    return this.done;
  }

  private end(ending: Ending) {
    if (this.ending || this.finished) return;
    this.ending = ending;
    this.abort.abort(new Error(`run ${ending}`));
  }

  private async run(): Promise<void> {
    const { job } = this.deps;
    try {
      const result = await this.runPrompt();
      if (this.ending || result.kind === "cancelled") return this.finishEnded();
      if (result.kind === "failed") return this.fail(result.error);
      await this.deliver(result.outputs);
    } catch (error) {
      if (this.ending) return this.finishEnded();
      const failure = failureOf(error);
      if (failure.code === "agent_error") {
        this.deps.log.error("job failed unexpectedly", { run_id: job.run_id, error });
      }
      this.fail(failure);
    }
  }

  /**
   * Queues the prompt, or picks up the one queued before a restart. Its id is chosen here and journaled
   * before `POST /prompt` goes out, so a restarted agent finds the prompt whether or not it heard back.
   */
  private async runPrompt() {
    const { job, instance, resume } = this.deps;
    const onEvent = (event: PromptEvent) => this.onEvent(event);
    const { signal } = this.abort;
    if (resume?.prompt_id && resume.graph) {
      this.log("INFO", `agent restarted: following prompt ${resume.prompt_id} on ${instance.id} again`);
      return instance.client.runPrompt(resume.graph, onEvent, signal, { id: resume.prompt_id, attach: true });
    }
    this.log("INFO", `running on ${instance.id} (attempt ${job.attempt})`);
    const plan = planInputs(job);
    await this.uploadInputs(plan);
    const promptId = randomUUID();
    const bound = bindInputs(job.graph, job.bindings, plan.values);
    // Outputs that are removed once uploaded must not be named again by ComfyUI's cache.
    const graph = instance.folders
      ? markOutputNodes(bound, promptId, instance.objectInfo?.outputNodes)
      : bound;
    Object.assign(this.record, { prompt_id: promptId, graph });
    this.deps.journal.save(this.record);
    return instance.client.runPrompt(graph, onEvent, signal, { id: promptId, attach: false });
  }

  private onEvent(event: PromptEvent) {
    if (this.ending) return;
    if (event.kind === "accepted") {
      this.record.prompt_id = event.promptId;
      void this.deps.report({ kind: "accepted", prompt_id: event.promptId });
    } else if (event.kind === "started") {
      void this.deps.report({ kind: "started" });
    } else if (event.kind === "preview") {
      this.deps.preview?.(event.preview);
    } else {
      // Throttled by the comfy client already: the first, then at most one per interval, and the last.
      void this.deps.report({ kind: "progress", progress: event.progress });
    }
  }

  /** Fetches each image/file input and uploads it to ComfyUI; its uploaded name becomes the value. */
  private async uploadInputs(plan: InputPlan) {
    const { job, instance, settings } = this.deps;
    for (const [inputId, source] of plan.files) {
      if (!/^(https?:|data:)/i.test(source)) {
        // Already a file in ComfyUI's input folder (a workflow default, say).
        if (source.includes("..") || source.startsWith("/"))
          throw new InputError(`input "${inputId}" is not a URL`);
        plan.values.set(inputId, source);
        continue;
      }
      const fetched = await fetchInput(source, {
        maxBytes: settings.maxInputBytes,
        timeoutMs: settings.inputTimeoutMs,
        allowPrivate: settings.allowPrivateInputs,
        trustedOrigins: settings.trustedOrigins,
        signal: this.abort.signal,
      });
      const ext =
        extensionFor(fetched.contentType) || (/\.[A-Za-z0-9]{1,8}$/.exec(fetched.filename)?.[0] ?? "");
      const filename = sanitizeFilename(`ce_${job.run_id}_${inputId}${ext}`);
      const name = await instance.client.uploadInput({ ...fetched, filename }, this.abort.signal);
      this.record.inputs.push(inputFile(name));
      this.deps.journal.save(this.record);
      this.log("INFO", `input "${inputId}" uploaded to ComfyUI as ${name} (${fetched.bytes.length} bytes)`);
      plan.values.set(inputId, name);
    }
  }

  /**
   * Uploads the prompt's output files to the URLs the control plane signs, then reports success. What
   * the prompt wrote to ComfyUI's output and temp folders is litter afterwards, however delivery ended:
   * safe in R2, or never to be (cancelled or failed mid-upload).
   */
  private async deliver(outputs: ComfyOutput[]) {
    const { files, texts } = splitOutputs(outputs);
    try {
      await this.upload(files, texts);
    } finally {
      await this.deps.instance.folders?.remove(
        files.filter((file) => file.type === "output" || file.type === "temp") as ComfyFile[],
      );
    }
  }

  private async upload(files: OutputFile[], texts: RunOutput[]) {
    if (files.length === 0) return this.finish({ kind: "succeeded", outputs: texts });
    // Out at once (sent as it is written); the upload does not wait behind other runs' fsyncs for it.
    void this.deps.report({ kind: "uploading" });
    this.deps.uploads?.begin();
    let uploaded: RunOutput[];
    try {
      uploaded = await this.uploadAll(files);
    } finally {
      this.deps.uploads?.end();
    }
    const bytes = uploaded.reduce((sum, output) => sum + output.size, 0);
    // The line rides on the final report: one report for the control plane to apply, not two in a row.
    const logs = [
      { level: "INFO" as const, message: `uploaded ${uploaded.length} output file(s), ${bytes} bytes` },
    ];
    this.finish({ kind: "succeeded", outputs: [...uploaded, ...texts], logs });
  }

  private async uploadAll(files: OutputFile[]): Promise<RunOutput[]> {
    const { instance, settings } = this.deps;
    const open = outputOpener(instance.folders, instance.client.openOutput);
    const kept = new KeptSources(settings.uploadConcurrency);
    try {
      const described = await describeOutputs(files, open, this.abort.signal, kept);
      const uploaded: RunOutput[] = [];
      for (let i = 0; i < described.length; i += MAX_FILES_PER_UPLOAD_REQUEST) {
        const batch = described.slice(i, i + MAX_FILES_PER_UPLOAD_REQUEST);
        const names = batch.map((d) => ({ name: d.upload_name, content_type: d.content_type, size: d.size }));
        const grants = await this.deps.requestUploadUrls(names, this.abort.signal);
        const options = {
          concurrency: settings.uploadConcurrency,
          retryDelayMs: settings.uploadRetryDelayMs,
          retryForMs: settings.uploadRetryForMs,
          signal: this.abort.signal,
          log: this.deps.log,
          kept,
        };
        uploaded.push(...(await uploadOutputs(batch, grants, open, options)));
      }
      return uploaded;
    } finally {
      kept.release();
    }
  }

  /**
   * Only the workflow's own faults fail a run. ComfyUI going down is the host's fault: the instance
   * takes no jobs until it answers again, and the run goes back to the control plane to be queued
   * again (attempt + 1, bounded there).
   */
  private fail(error: RunFailure) {
    if (error.code !== "comfy_unavailable") return this.finish({ kind: "failed", error });
    this.deps.onComfyUnavailable(error.message);
    this.deps.log.warn("ComfyUI went down under a run; handing it back", { run_id: this.job.run_id });
    this.finish({ kind: "released", reason: `comfy_unavailable: ${error.message}` });
  }

  private finishEnded() {
    if (this.ending === "cancel") this.finish({ kind: "cancelled" });
    else this.finished = true;
  }

  private finish(report: TerminalReport) {
    if (this.finished) return;
    this.finished = true;
    this.finalReport = this.deps.report(report);
  }

  /**
   * Once the run is over and its final report is safe in the outbox: its input files leave ComfyUI's
   * input folder, and the journal forgets it.
   */
  private async settle() {
    await this.finalReport;
    try {
      await this.deps.instance.folders?.remove(this.record.inputs);
      await this.deps.journal.remove(this.deps.job.run_id);
    } catch (error) {
      this.deps.log.error("could not clean up after a run", { run_id: this.deps.job.run_id, error });
    }
  }

  private log(level: "DEBUG" | "INFO" | "WARNING" | "ERROR", message: string) {
    void this.deps.report({ kind: "log", level, message: message.slice(0, MAX_LOG_CHARS) });
  }
}

/** `/upload/image` answers `name` or `subfolder/name`, as a LoadImage input takes it. */
function inputFile(name: string): ComfyFile {
  const slash = name.lastIndexOf("/");
  return { type: "input", subfolder: slash < 0 ? "" : name.slice(0, slash), filename: name.slice(slash + 1) };
}

function failureOf(error: unknown): RunFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InputError) return { code: "input_error", message };
  if (error instanceof UploadError) return { code: "upload_error", message };
  if (error instanceof ComfyUnavailableError) return { code: "comfy_unavailable", message };
  return { code: "agent_error", message };
}
