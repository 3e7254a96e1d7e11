// cloud-config, the seed's format: coreos-cloudinit reads it on every boot of a Flatcar host.

import type { UserDataFormat } from "../types";
import { readCloudConfig } from "./read";
import { renderCloudConfig } from "./render";
import { validateCloudConfig } from "./validate";

export const cloudConfig: UserDataFormat = {
    name: "cloud-config",
    render(content) {
        return { format: "cloud-config", bytes: Buffer.from(renderCloudConfig(content), "utf8"), encoding: "text", uploads: [] };
    },
    read(bytes) {
        return { format: "cloud-config", ...readCloudConfig(bytes.toString("utf8")) };
    },
    validate(bytes) {
        return validateCloudConfig(bytes.toString("utf8"));
    },
};

export * from "./read";
export * from "./render";
export * from "./validate";
