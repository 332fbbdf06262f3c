export * from "./auth";
export * from "./files";
export * from "./node-definitions";
export * from "./runs";
export * from "./workflows";
