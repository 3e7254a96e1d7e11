export * from "./artifactBundle";
export * from "./artifactUploads";
export * from "./coreosHost";
