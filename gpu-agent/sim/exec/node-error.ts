/** A Python exception raised inside a node, as `execution_error` reports it. */
export class NodeError extends Error {
  override name = "NodeError";

  constructor(
    message: string,
    readonly exceptionType: string,
    /** The node's own traceback frames, after ComfyUI's execution frames. */
    readonly frames: string[] = [],
  ) {
    super(message);
  }
}

/** ComfyUI's InterruptProcessingException: the run stops where this is thrown. */
export class Interrupted extends Error {
  override name = "Interrupted";

  constructor(readonly nodeId: string) {
    super(`interrupted at node ${nodeId}`);
  }
}

/** The frames every node error's traceback starts with, as ComfyUI v0.3.64 prints them. */
const EXECUTION_FRAMES = [
  '  File "/srv/comfy/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)\n',
  '  File "/srv/comfy/ComfyUI/execution.py", line 315, in get_output_data\n    return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)\n',
  '  File "/srv/comfy/ComfyUI/execution.py", line 289, in _async_map_node_over_list\n    await process_inputs(input_dict, i)\n',
  '  File "/srv/comfy/ComfyUI/execution.py", line 277, in process_inputs\n    result = f(**inputs)\n',
];

export function traceback(error: NodeError): string[] {
  return [...EXECUTION_FRAMES, ...error.frames];
}

/** One traceback frame, `File "…", line N, in fn` plus its source line. */
export function frame(file: string, line: number, fn: string, source: string): string {
  return `  File "${file}", line ${line}, in ${fn}\n    ${source}\n`;
}
