// The user-data formats behind one interface (formats/types.ts). index.ts and scripts/ pick one by
// name and use only the interface.
import { cloudConfig } from "./cloudconfig";
import { decompressIfGzip } from "./gzip";
import { ignition, isIgnitionConfig } from "./ignition";
import type { UserDataFormat, UserDataFormatName, UserDataView } from "./types";

export * from "./types";

/** The format of this name. */
export function formatFor(name: UserDataFormatName): UserDataFormat {
    switch (name) {
        case "cloud-config":
            return cloudConfig;
        case "ignition":
            return ignition;
        default: {
            const never: never = name;
            throw new Error(`unknown user-data format ${JSON.stringify(never)}`);
        }
    }
}

/**
 * The format of user-data, recognised by its bytes as Flatcar does: JSON with an `ignition.version`
 * is Ignition (coreos-cloudinit's config.IsIgnitionConfig); anything else, gunzipped first when it is
 * gzip, is cloud-config.
 */
export function userDataFormatOf(bytes: Buffer): UserDataFormat {
    return isIgnitionConfig(decompressIfGzip(bytes).toString("utf8")) ? ignition : cloudConfig;
}

/**
 * Read user-data of any format back, recognising it by its bytes (the diff compares revisions that
 * may differ in format). `uploads`: the objects the plan uploads next to the artifact, key → content.
 */
export function readUserData(bytes: Buffer, uploads?: ReadonlyMap<string, string>): UserDataView {
    return userDataFormatOf(bytes).read(bytes, uploads);
}
