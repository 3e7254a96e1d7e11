export * from "./artifactBundle";
export * from "./artifactUploads";
export * from "./coreosHost";
export * from "./cutover";
export * from "./dataVolume";
export * from "./secrets";
