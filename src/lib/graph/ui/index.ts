export { COMFYDEPLOY_DEFINITIONS } from "./comfydeploy";
export { conversionError, uiToApi } from "./convert";
export type { NodeDefinition, NodeDefinitions } from "./definitions";
