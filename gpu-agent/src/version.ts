/** Replaced by build.mjs with the version in gpu-agent/package.json; "dev" when run from source. */
declare const __AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string = typeof __AGENT_VERSION__ === "string" ? __AGENT_VERSION__ : "dev";
