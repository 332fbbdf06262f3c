export * from "./auth";
export * from "./files";
export * from "./fleet";
export * from "./models";
export * from "./node-definitions";
export * from "./runs";
export * from "./webhooks";
export * from "./workflows";
