export * from "./artifactBundle";
export * from "./coreosHost";
