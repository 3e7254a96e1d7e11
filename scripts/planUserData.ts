// A plan's user-data, whatever its format: the bytes EC2 receives (text, or base64 when binary), the
// objects the plan uploads next to the artifact (an Ignition stub's full config is one, as the
// upload object's `content` input), and the two read back through formats/. Pure: shared by the
// offline plan (scripts/offline.ts, scripts/plan.ts) and the PR summary (scripts/diff/).
import { UserDataView, readUserData } from "../formats";

/** The slice of a plan read here; `userDataEncoding` is absent in plans made before it existed (text). */
export interface PlanUserData {
    readonly userData: string;
    readonly userDataEncoding?: "text" | "base64";
    readonly resources: readonly { readonly type: string; readonly inputs: Readonly<Record<string, unknown>> }[];
}

export const BUCKET_OBJECT_TYPE = "aws:s3/bucketObjectv2:BucketObjectv2";

/** The bytes EC2 receives. */
export function planUserDataBytes(plan: Pick<PlanUserData, "userData" | "userDataEncoding">): Buffer {
    return Buffer.from(plan.userData, plan.userDataEncoding === "base64" ? "base64" : "utf8");
}

/** Objects the plan uploads with literal content (not a file asset), key → content. */
export function planUploads(plan: Pick<PlanUserData, "resources">): Map<string, string> {
    const out = new Map<string, string>();
    for (const r of plan.resources) {
        const { key, content } = r.inputs;
        if (r.type === BUCKET_OBJECT_TYPE && typeof key === "string" && typeof content === "string") out.set(key, content);
    }
    return out;
}

/** The plan's user-data read back: units, files and the rest, and how the document is delivered. */
export function readPlanUserData(plan: PlanUserData): UserDataView {
    return readUserData(planUserDataBytes(plan), planUploads(plan));
}
