import type { NodeErrors, PromptError } from "./schemas";

/** Every error of this client derives from this. */
export class ComfyError extends Error {}

/** ComfyUI could not be reached: connection refused or reset, or no answer in time. */
export class ComfyUnreachableError extends ComfyError {
  override name = "ComfyUnreachableError";

  /** Nothing listens at ComfyUI's address (connection refused): its process is gone, not just slow. */
  get refused(): boolean {
    return (this.cause as { code?: string } | undefined)?.code === "ECONNREFUSED";
  }
}

/** ComfyUI answered with an unexpected HTTP status. */
export class ComfyHttpError extends ComfyError {
  override name = "ComfyHttpError";

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** ComfyUI answered something this client does not understand. */
export class ComfyProtocolError extends ComfyError {
  override name = "ComfyProtocolError";
}

/** POST /prompt was refused (HTTP 400): ComfyUI's `error` and per-node `node_errors`. */
export class ComfyValidationError extends ComfyError {
  override name = "ComfyValidationError";

  constructor(
    readonly error: PromptError,
    readonly nodeErrors: NodeErrors,
  ) {
    super(describe(error, nodeErrors));
  }
}

function describe(error: PromptError, nodeErrors: NodeErrors): string {
  const reasons = Object.entries(nodeErrors).flatMap(([id, node]) =>
    node.errors.map(
      (e) => `node ${id} (${node.class_type ?? "?"}): ${e.message}${e.details ? `: ${e.details}` : ""}`,
    ),
  );
  const head = `${error.message}${error.details ? `: ${error.details}` : ""}`;
  return reasons.length > 0 ? `${head}; ${reasons.join("; ")}` : head;
}
