export * from "./trace";
export * from "./lsp";
