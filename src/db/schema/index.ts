export * from "./auth";
export * from "./files";
export * from "./runs";
export * from "./webhooks";
export * from "./workflows";
