export * from "./auth";
export * from "./files";
export * from "./fleet";
export * from "./runs";
export * from "./workflows";
