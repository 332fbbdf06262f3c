export { bindInputs, InputError } from "../../../src/protocol/bind-inputs";

import type { JobMessage } from "../../../src/protocol/v1";

export type JobInputs = Pick<JobMessage, "inputs" | "input_urls">;

/**
 * What the job's inputs need before the graph can be bound: `values` are written into the graph as they
 * are; `files` (input id → URL, data URI or ComfyUI file name) must first be fetched and uploaded to
 * ComfyUI, and the uploaded name is then added to `values`. The control plane resolved both already.
 */
export interface InputPlan {
  values: Map<string, unknown>;
  files: Map<string, string>;
}

export const planInputs = (job: JobInputs): InputPlan => ({
  values: new Map(Object.entries(job.inputs)),
  files: new Map(Object.entries(job.input_urls)),
});
