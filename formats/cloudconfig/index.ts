// cloud-config, the seed's format: coreos-cloudinit reads it on every boot of a Flatcar host.

import { decompressIfGzip, isGzip } from "../gzip";
import type { UserDataFormat } from "../types";
import { readCloudConfig } from "./read";
import { cloudConfigUserData } from "./render";
import { validateCloudConfig } from "./validate";

export const cloudConfig: UserDataFormat = {
    name: "cloud-config",
    render(content) {
        return cloudConfigUserData(content);
    },
    read(bytes) {
        const document = decompressIfGzip(bytes).toString("utf8");
        return {
            format: "cloud-config",
            delivery: isGzip(bytes) ? { kind: "gzip", document } : { kind: "inline" },
            ...readCloudConfig(document),
        };
    },
    validate(bytes) {
        // As coreos-cloudinit: a gzip user-data is gunzipped before anything reads it; if that fails, it stops there.
        let document: Buffer;
        try {
            document = decompressIfGzip(bytes);
        } catch (e) {
            return [
                {
                    code: "USER_DATA_GZIP_INVALID",
                    where: "user-data",
                    field: "(gzip)",
                    message: `starts with gzip's magic bytes but does not gunzip: ${(e as Error).message}`,
                    fix: "report this as a renderer bug: the program gzips user-data itself",
                },
            ];
        }
        return validateCloudConfig(document.toString("utf8"));
    },
};

export * from "./read";
export * from "./render";
export * from "./validate";
