export * from "./auth";
export * from "./files";
export * from "./runs";
export * from "./workflows";
