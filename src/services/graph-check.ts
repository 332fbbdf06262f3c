import type { RunWarning } from "../db/schema/runs";
import { AppError } from "../lib/errors";
import type { ApiGraph } from "../protocol/graph";
import { reportedNodeClasses } from "./node-definitions";

type Context = { env: { BUCKET: R2Bucket } };

/** ComfyUI's own wording for a class it does not know (`POST /prompt` answers it with HTTP 400). */
const missingNodeMessage = (classType: string) => `Cannot execute because node ${classType} does not exist.`;

/**
 * Refuses a graph that names a node class no machine of the pool reports (`definitionHashes`, read
 * with the rest of the pool's state), before it is queued, with ComfyUI's `node_errors` beside our
 * envelope. While no machine has reported definitions there is no ground truth: the graph is accepted
 * with a warning.
 */
export async function checkNodeClasses(
  ctx: Context,
  graph: ApiGraph,
  pool: string,
  definitionHashes: readonly string[],
): Promise<RunWarning[]> {
  const known = await reportedNodeClasses(ctx.env.BUCKET, definitionHashes);
  if (!known)
    return [
      {
        code: "node_classes_unchecked",
        message: `No machine of pool "${pool}" has reported its node definitions yet; the graph's node classes were not checked`,
      },
    ];
  const unknown = Object.entries(graph).filter(([, node]) => !known.has(node.class_type));
  if (unknown.length > 0) throw unknownNodes(unknown, pool);
  return [];
}

function unknownNodes(nodes: [string, ApiGraph[string]][], pool: string) {
  const nodeErrors = Object.fromEntries(
    nodes.map(([id, node]) => [
      id,
      {
        errors: [
          {
            type: "invalid_prompt",
            message: missingNodeMessage(node.class_type),
            details: `Node ID '#${id}'`,
            extra_info: {},
          },
        ],
        dependent_outputs: [],
        class_type: node.class_type,
      },
    ]),
  );
  const [firstId, first] = nodes[0] as [string, ApiGraph[string]];
  return new AppError(
    "validation_error",
    `${missingNodeMessage(first.class_type)} Node ID '#${firstId}'; no machine of pool "${pool}" reports it`,
    nodes.map(([id, node]) => ({
      code: "UNKNOWN_NODE_CLASS",
      message: missingNodeMessage(node.class_type),
      field: `${id}.class_type`,
    })),
    { node_errors: nodeErrors },
  );
}
