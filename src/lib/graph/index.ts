export { EXTERNAL_PREFIX, isExternalInputNode, outputSpec } from "./external";
export { coerceInput, deriveInputSpec, type ExplicitBinding, validateRunInputs } from "./inputs";
export { type GraphFormat, graphFormat, normaliseGraph } from "./normalise";
export { paramBindings } from "./params";
export { findCycle, validateGraph } from "./validate";
