export * from "./auth";
export * from "./files";
export * from "./fleet";
export * from "./runs";
export * from "./webhooks";
export * from "./workflows";
