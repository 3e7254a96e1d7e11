export * from "./artifactBundle";
export * from "./coreosHost";
export * from "./secrets";
