// Reproducible, cached, parallel packing of the artifact. No Pulumi.
export { DEFAULT_CHUNK_BYTES, PackEntry, PackError, PackErrorCode, PackOptions, PackProblem, PackResult, PackStats, listFiles, pack } from "./pack";
export { CACHE_FORMAT } from "./cache";
