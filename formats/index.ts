// The user-data formats behind one interface (formats/types.ts). index.ts and scripts/ pick one by
// name and use only the interface.
import { cloudConfig } from "./cloudconfig";
import type { UserDataFormat, UserDataFormatName } from "./types";

export * from "./types";

/** The format of this name. */
export function formatFor(name: UserDataFormatName): UserDataFormat {
    switch (name) {
        case "cloud-config":
            return cloudConfig;
        case "ignition":
            throw new Error("the ignition user-data format is not built yet");
        default: {
            const never: never = name;
            throw new Error(`unknown user-data format ${JSON.stringify(never)}`);
        }
    }
}

/** Read user-data of any format back, recognising it by its bytes (the diff compares revisions that may differ in format). */
export function readUserData(bytes: Buffer): ReturnType<UserDataFormat["read"]> {
    return cloudConfig.read(bytes);
}
