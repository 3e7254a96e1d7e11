// Two offline plans (base and head) → what a reviewer needs: will the host be replaced, and why;
// which units, files, artifact files, config keys and resources changed; the diffs, within a budget.
//
// Pure: plain plans in, a Summary (with its Markdown) out. No Pulumi, no I/O, no clock. The CLI
// (scripts/diff.ts) makes the plans and reads the files. Two steps: decide.ts compares the plans
// into a Decision (plain data), render.ts writes it as Markdown; this module holds the types and
// composes the two.
import type { UserDataDelivery, UserDataFormatName, UserDataView } from "../../formats";
import { ConfigChange, ConfigView } from "./config";
import { decide } from "./decide";
import { InputEffect } from "./instance";
import { reasonText, render, warningText } from "./render";
import { ValueChange } from "./values";

export { INSTANCE_TYPE } from "./decide";

/** Resource options as scripts/offline.ts records them (for every resource). */
export interface PlanOptions {
    readonly ignoreChanges?: readonly string[];
    readonly replaceOnChanges?: readonly string[];
    readonly deleteBeforeReplace?: boolean;
}

/** What `scripts/plan.ts --json` prints (the parts read here). */
export interface PlanLike {
    readonly resources: readonly {
        readonly type: string;
        readonly name: string;
        readonly inputs: Readonly<Record<string, unknown>>;
        readonly options?: PlanOptions;
    }[];
    readonly outputs: Readonly<Record<string, unknown>>;
    /** The user-data's text, or base64 of its bytes when `userDataEncoding` is `base64` (absent in older plans: text). */
    readonly userData: string;
    readonly userDataEncoding?: "text" | "base64";
}

export interface SummaryOptions {
    /** Stack name, e.g. `dev`. */
    readonly stack: string;
    /** How to name the two sides, e.g. "`origin/main` (`1b70bb7`)" and "the working tree". Markdown. */
    readonly baseLabel?: string;
    readonly headLabel?: string;
    /** Characters the Markdown may use; diffs are cut to fit. Default {@link COMMENT_BUDGET}. */
    readonly budget?: number;
    /** Where to see what was cut, e.g. "see the job summary / run `npm run diff` locally". */
    readonly seeAlso?: string;
    /** Lines of context around each change. Default 3. */
    readonly context?: number;
    /** Files under each side's artifact folder, relative path → SHA-256 (the plan does not list them). */
    readonly artifactFiles?: {
        readonly base: Readonly<Record<string, string>>;
        readonly head: Readonly<Record<string, string>>;
        /** The folders, for the text, e.g. `artifact`. */
        readonly baseDir?: string;
        readonly headDir?: string;
        /** A caveat for the reader, e.g. where image tarballs came from. Markdown. */
        readonly note?: string;
    };
    /** Each side's stack config as its files write it (secure values are never shown). */
    readonly config?: { readonly base: ConfigView; readonly head: ConfigView };
    /** How to read a plan's user-data into units, files and other keys. Default: formats/'s reader, whatever the format, with the plan's uploads. */
    readonly readUserData?: (userData: string, plan: PlanLike) => UserDataView;
}

/** A plan's user-data as the summary compares it, whatever its format: units in start order, files written, other settings. */
export type { UserDataView };

export type HostVerdict = "replace" | "update" | "none" | "create" | "delete";

/** How a new host (replaced or created) goes live, from the head plan (components/cutover.ts). */
export interface Cutover {
    /** Whether a readiness gate stands between the new instance and the address. */
    readonly gated: boolean;
    /** How long the gate may wait (`coreos-containers:readyTimeoutMinutes` of the head). */
    readonly timeoutMinutes?: number;
}

export interface HostInputChange {
    /** The changed input path, e.g. `rootBlockDevice.volumeSize`. */
    readonly path: string;
    /** The table entry that decided it, e.g. `rootBlockDevice.volumeSize`. */
    readonly rule: string;
    /** `ignored`: under the head's ignoreChanges, e.g. a looked-up AMI. */
    readonly effect: InputEffect | "ignored";
    readonly note: string;
    readonly before: unknown;
    readonly after: unknown;
}

export interface NamedChanges {
    readonly added: string[];
    readonly removed: string[];
    readonly changed: string[];
}

export interface ResourceChange {
    readonly type: string;
    readonly name: string;
    readonly kind: "added" | "removed" | "changed";
    readonly changes: readonly ValueChange[];
}

export interface Summary {
    readonly markdown: string;
    /** The first line of the Markdown. */
    readonly headline: string;
    readonly host: HostVerdict;
    readonly replaced: boolean;
    /** Why, one phrase each (Markdown). */
    readonly reasons: string[];
    readonly hostInputs: HostInputChange[];
    /** Units by name, in document order. */
    readonly units: UnitChanges;
    /** Files cloud-config writes, by path. */
    readonly files: NamedChanges;
    readonly artifact: ArtifactChange;
    readonly config: ConfigChange[];
    /** Resources other than the instance whose inputs differ. */
    readonly resources: ResourceChange[];
    readonly warnings: string[];
    readonly truncated: boolean;
    /** Set when the host is replaced or created: whether it goes through the readiness gate, and how long that may wait. */
    readonly cutover?: Cutover;
}

export type UnitChanges = NamedChanges & { readonly reordered: boolean; readonly onlyArtifact: string[] };

export interface ArtifactChange {
    readonly before?: string;
    readonly after?: string;
    readonly changed: boolean;
    /** Files under the artifact folder, when the caller listed them. */
    readonly files?: NamedChanges;
}

/** Why the user-data changed, in the reviewer's terms. */
export type UserDataCause =
    /** The user-data format changed (`coreos-containers:userDataFormat`): every byte differs, for that reason. */
    | { readonly kind: "format"; readonly before: UserDataFormatName; readonly after: UserDataFormatName }
    /** The same format, delivered otherwise: e.g. a cloud-config that no longer fits is now gzip'd. */
    | { readonly kind: "delivery"; readonly before: UserDataDelivery["kind"]; readonly after: UserDataDelivery["kind"] }
    /** The artifact's key changed; `units` differ only by it. */
    | { readonly kind: "artifact"; readonly units: readonly string[] }
    | { readonly kind: "units"; readonly change: keyof NamedChanges; readonly names: readonly string[] }
    | { readonly kind: "start-order" }
    | { readonly kind: "files"; readonly change: keyof NamedChanges; readonly paths: readonly string[] }
    /** A top-level key other than units and files, e.g. `ssh_authorized_keys`. */
    | { readonly kind: "key"; readonly key: string }
    /** No unit, file or key differs: only the text. */
    | { readonly kind: "formatting" };

/** One reason for the host's verdict. */
export type HostReason =
    | { readonly kind: "input"; readonly change: HostInputChange }
    | { readonly kind: "user-data"; readonly causes: readonly UserDataCause[] }
    /**
     * A secret's value changed in the stack file: its SSM parameter gets a new version, which the
     * user-data names (the offline plans cannot see versions; `pulumi preview` shows the user-data unknown).
     */
    | { readonly kind: "secrets"; readonly secrets: readonly SecretChange[] }
    /** The base plan has no instance; `no-base-stack`: there is no base plan at all. */
    | { readonly kind: "no-base-instance" }
    | { readonly kind: "no-base-stack" }
    | { readonly kind: "no-head-instance" };

export type HostWarning =
    /** The AMI differs but is under ignoreChanges. */
    | { readonly kind: "ignored-ami"; readonly before: unknown; readonly after: unknown }
    /**
     * The data volume would be replaced (an input the provider cannot change in place) or removed: the
     * engine refuses while it is protected, and a new volume would be empty.
     */
    | { readonly kind: "data-volume"; readonly name: string; readonly change: "replaced" | "removed"; readonly inputs: readonly string[] };

export interface DocText {
    readonly content: string;
    /** Everything else on the entry (`command`, `permissions`, …). */
    readonly settings: Readonly<Record<string, unknown>>;
}

/** A unit or file to show a diff of. */
export interface TextChange {
    readonly what: "unit" | "file";
    /** The unit's name or the file's path. */
    readonly name: string;
    readonly change: keyof NamedChanges;
    /** Absent when added. */
    readonly before?: DocText;
    /** Absent when removed. */
    readonly after?: DocText;
    /** A changed unit that differs only by the artifact's key. */
    readonly onlyArtifact: boolean;
}

/** A secret of `coreos-containers:secrets` whose ciphertext in the stack file differs. Never a value. */
export interface SecretChange {
    readonly name: string;
    readonly change: keyof NamedChanges;
    /** The containers that take it (from the plans' `secrets` output), sorted. */
    readonly usedBy: readonly string[];
}

/** What changed between two plans, as plain data: decide.ts makes it, render.ts writes it. */
export interface Decision {
    readonly host: HostVerdict;
    readonly hostName: string;
    readonly reasons: readonly HostReason[];
    readonly hostInputs: HostInputChange[];
    /** When the host is replaced and the head records its options: which instance exists first. */
    readonly replaceOrder?: "create-first" | "delete-first";
    readonly units: UnitChanges;
    readonly files: NamedChanges;
    readonly artifact: ArtifactChange;
    /** Absent when the caller gave no config to compare. */
    readonly config?: ConfigChange[];
    /** Secrets whose value changed, was added or removed; empty without config to compare. */
    readonly secrets: readonly SecretChange[];
    readonly resources: ResourceChange[];
    readonly warnings: readonly HostWarning[];
    /** Units then files, each changed, added, removed. */
    readonly texts: readonly TextChange[];
    /** Set when the host is replaced or created. */
    readonly cutover?: Cutover;
}

/** Compare two plans of one stack. `base` null: the stack does not exist at the base revision. */
export function summarize(base: PlanLike | null, head: PlanLike, opts: SummaryOptions): Summary {
    const decision = decide(base, head, opts);
    const { markdown, headline, truncated } = render(decision, opts);
    return {
        markdown,
        headline,
        host: decision.host,
        replaced: decision.host === "replace",
        reasons: decision.reasons.map((r) => reasonText(r, opts.stack)),
        hostInputs: decision.hostInputs,
        units: decision.units,
        files: decision.files,
        artifact: decision.artifact,
        config: decision.config ?? [],
        resources: decision.resources,
        warnings: decision.warnings.map(warningText),
        truncated,
        ...(decision.cutover ? { cutover: decision.cutover } : {}),
    };
}
