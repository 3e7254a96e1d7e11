// EC2's user-data limit, for every format: it counts the bytes the instance receives.
import type { Problem } from "../units/problems";
import { USER_DATA_LIMIT } from "./types";

/** The bytes EC2 receives against its limit (AWS EC2 User Guide: "limited to 16 KB, in raw form, before it is base64-encoded"). */
export function userDataSizeProblems(received: Buffer, fix: string): Problem[] {
    const bytes = received.length;
    if (bytes <= USER_DATA_LIMIT) return [];
    return [
        {
            code: "USER_DATA_TOO_LARGE",
            where: "user-data",
            field: "size",
            message: `${bytes} bytes is over EC2's limit of ${USER_DATA_LIMIT} bytes (by ${bytes - USER_DATA_LIMIT})`,
            fix,
        },
    ];
}
