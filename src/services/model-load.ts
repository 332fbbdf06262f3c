import type { Db } from "../db/client";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import type { ApiGraph } from "../protocol/graph";
import { modelRows, typeOf } from "./models";
import { queueMachineRun } from "./runs";

type Context = { env: Bindings; db: Db; userId: string; origin: string };

/**
 * The loader that reads one file of a folder with nothing else given. LoRAs load only into a model, and
 * the other loaders need settings a file name does not give (a CLIP type, a weight dtype).
 */
const LOADERS: Readonly<Record<string, { classType: string; input: string }>> = {
  checkpoints: { classType: "CheckpointLoaderSimple", input: "ckpt_name" },
  vae: { classType: "VAELoader", input: "vae_name" },
};

/** A warm-up that waits longer than this for its machine is ended as `timeout`. */
const WARM_UP_TIMEOUT_MINUTES = 10;

/** The folder's loader, made an output by PreviewAny (ComfyUI runs only what an output needs). */
const warmUpGraph = (loader: { classType: string; input: string }, name: string): ApiGraph => ({
  "1": { class_type: loader.classType, inputs: { [loader.input]: name } },
  "2": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
});

/**
 * Seed 004's load. ComfyUI has no endpoint that loads one model, so this queues a warm-up run on each
 * online machine that has the file: its loader and PreviewAny, pinned to the machine and routed to an
 * instance holding the file. ComfyUI reads the file and keeps the loaded model in its node cache until
 * a prompt that does not use that loader; nothing pins it there.
 */
export async function loadModel(ctx: Context, name: string, type?: string) {
  const rows = await modelRows(ctx.db, ctx.userId, name, type);
  const { folder, name: file } = rows[0] as (typeof rows)[number];
  const loader = LOADERS[folder];
  if (!loader) {
    const message = `ComfyUI cannot load a ${typeOf(folder)} on its own; only checkpoints and VAEs can be warmed up (a LoRA loads with the run that applies it)`;
    throw new AppError("bad_request", message, [
      { code: "LOAD_NOT_SUPPORTED", message, field: "model_name" },
    ]);
  }
  const machines = new Map(rows.map((row) => [row.machineId, row]));
  const runs: { machine_id: string; run_id: string }[] = [];
  const skipped: { machine_id: string; reason: string }[] = [];
  for (const machine of machines.values()) {
    if (machine.machineStatus === "offline") {
      skipped.push({ machine_id: machine.machineId, reason: "The machine is offline" });
      continue;
    }
    try {
      const { run } = await queueMachineRun(
        ctx,
        warmUpGraph(loader, file),
        { pool: machine.pool, machineId: machine.machineId },
        { timeoutMinutes: WARM_UP_TIMEOUT_MINUTES, metadata: { model_load: { folder, name: file } } },
      );
      runs.push({ machine_id: machine.machineId, run_id: run.id });
    } catch (error) {
      // A machine whose ComfyUI lacks a node of the warm-up (an old one without PreviewAny) is skipped.
      if (!(error instanceof AppError)) throw error;
      skipped.push({ machine_id: machine.machineId, reason: error.message });
    }
  }
  if (runs.length === 0)
    throw new AppError(
      "conflict",
      `No online machine that has ${folder}/${file} could take a warm-up run`,
      skipped.map((s) => ({ code: "NOT_WARMED", message: s.reason, field: s.machine_id })),
    );
  return {
    message: `Warm-up runs queued on ${runs.length} machine(s): each loads the file into its ComfyUI's memory`,
    model_name: file,
    model_type: typeOf(folder),
    runs,
    skipped,
  };
}
