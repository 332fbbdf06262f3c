import layouts from "./comfydeploy-definitions.json";
import type { NodeDefinitions } from "./definitions";

/**
 * ComfyDeploy's external-input nodes, laid out as its custom-node package declares them. Runs lower
 * these nodes away before the graph reaches ComfyUI, so a machine need not have the package installed;
 * definitions a machine does report take precedence.
 */
export const COMFYDEPLOY_DEFINITIONS: NodeDefinitions = layouts as NodeDefinitions;
