// Two offline plans → what changed, as plain data: the host's verdict and why, the instance's
// changed inputs, units, files, artifact, config and other resources, and the texts to diff.
//
// Pure and Markdown-free: render.ts turns a Decision into text. The user-data is read through
// `opts.readUserData`, so nothing here knows its format.
import { CUTOVER_ENV, cutoverCommand } from "../cutover/contract";
import { readPlanUserData } from "../planUserData";
import { ConfigChange, configChanges } from "./config";
import { effectiveRule } from "./instance";
import { ValueChange, deepEqual, diffValues } from "./values";
import type {
    Cutover,
    Decision,
    DocText,
    HostInputChange,
    HostReason,
    HostVerdict,
    HostWarning,
    NamedChanges,
    PlanLike,
    PlanOptions,
    ResourceChange,
    SecretChange,
    SummaryOptions,
    TextChange,
    UnitChanges,
    UserDataCause,
    UserDataView,
} from "./summary";

export const INSTANCE_TYPE = "aws:ec2/instance:Instance";

type PlanResource = PlanLike["resources"][number];

const EMPTY_VIEW: UserDataView = { format: "cloud-config", delivery: { kind: "inline" }, units: [], files: [], other: {} };

/** Compare two plans of one stack. `base` null: the stack does not exist at the base revision. */
export function decide(base: PlanLike | null, head: PlanLike, opts: SummaryOptions): Decision {
    const read = opts.readUserData ?? ((_userData: string, plan: PlanLike) => readPlanUserData(plan));
    const baseDoc = base ? read(base.userData, base) : EMPTY_VIEW;
    const headDoc = read(head.userData, head);
    // Across formats, units and files are compared by their text: their settings (`command: start`
    // or `enabled: true`, `permissions` or `mode`) say the same in each format's words.
    // Stryker disable next-line ConditionalExpression: without a base no unit or file is on both sides, and the format, delivery and other keys are read only with one
    const formatChanged = base !== null && baseDoc.format !== headDoc.format;
    const same = formatChanged ? sameContent : sameText;
    const artifact = artifactChange(base, head, opts.artifactFiles);
    // Stryker disable next-line ConditionalExpression: without a base no unit is on both sides, so the common units' order cannot differ
    const units = unitChanges(base !== null, baseDoc, headDoc, artifact, same);
    const files = namedChanges(baseDoc.files, headDoc.files, (f) => f.path, same);
    const otherKeys =
        base && !formatChanged ? [...new Set(diffValues(baseDoc.other, headDoc.other).map((c) => c.path.split(/[.[]/)[0]!))] : [];
    const delivery: UserDataCause[] = !base
        ? []
        : formatChanged
          ? [{ kind: "format", before: baseDoc.format, after: headDoc.format }]
          : baseDoc.delivery.kind !== headDoc.delivery.kind
            ? [{ kind: "delivery", before: baseDoc.delivery.kind, after: headDoc.delivery.kind }]
            : [];

    const baseInstance = base?.resources.find((r) => r.type === INSTANCE_TYPE);
    const headInstance = head.resources.find((r) => r.type === INSTANCE_TYPE);
    const hostInputs =
        baseInstance && headInstance ? diffValues(baseInstance.inputs, headInstance.inputs).map((c) => classifyInput(c, headInstance)) : [];
    // Stryker disable next-line ConditionalExpression: the causes are read only when the base has an instance (hostVerdict)
    const causes = userDataCauses(delivery, base !== null && artifact.changed, units, files, otherKeys);
    const config = opts.config ? configChanges(opts.config.base, opts.config.head) : undefined;
    const secrets = secretChanges(config ?? [], base, head);
    const verdict = hostVerdict(base !== null, baseInstance, headInstance, hostInputs, causes);
    // A changed value is a new parameter version in the user-data: the host is replaced, whatever else changed.
    const changedSecrets = secrets.filter((c) => c.change === "changed");
    const { host, reasons } =
        changedSecrets.length > 0 && baseInstance && headInstance
            ? {
                  host: "replace" as const,
                  reasons: [...(verdict.host === "replace" ? verdict.reasons : []), { kind: "secrets" as const, secrets: changedSecrets }],
              }
            : verdict;
    const headOptions = headInstance?.options;
    return {
        host,
        hostName: headInstance?.name ?? baseInstance?.name ?? "host",
        reasons,
        hostInputs,
        ...(host === "replace" && headOptions ? { replaceOrder: headOptions.deleteBeforeReplace ? "delete-first" : "create-first" } : {}),
        ...(host === "replace" || host === "create" ? { cutover: cutoverOf(head) } : {}),
        units,
        files,
        artifact,
        ...(config ? { config } : {}),
        secrets,
        resources: resourceChanges(base, head),
        warnings: [
            ...hostInputs
                .filter((c) => c.effect === "ignored" && c.rule === "ami")
                .map((c): HostWarning => ({ kind: "ignored-ami", before: c.before, after: c.after })),
            ...dataVolumeWarnings(resourceChanges(base, head)),
        ],
        texts: [
            ...textChanges("unit", baseDoc.units, headDoc.units, units, (u) => u.name, units.onlyArtifact),
            ...textChanges("file", baseDoc.files, headDoc.files, files, (f) => f.path),
        ],
    };
}

/** The readiness gate the head plan puts between a new instance and its address, and its timeout. */
function cutoverOf(head: PlanLike): Cutover {
    const gate = head.resources.find((r) => r.type === "command:local:Command" && r.inputs["create"] === cutoverCommand("gate"));
    if (!gate) return { gated: false };
    const env = gate.inputs["environment"];
    // Stryker disable next-line ConditionalExpression: a truthy non-object in a JSON plan (text, number, true) has no CUTOVER_TIMEOUT_SECONDS property either
    const seconds = Number(env && typeof env === "object" ? (env as Record<string, unknown>)[CUTOVER_ENV.timeoutSeconds] : undefined);
    return { gated: true, ...(Number.isFinite(seconds) && seconds > 0 ? { timeoutMinutes: seconds / 60 } : {}) };
}

/** The stack config key that holds the secrets' values. */
export const SECRETS_KEY = "coreos-containers:secrets";

/** Secret name → the containers that take it, from a plan's `secrets` output. */
function secretUsers(plan: PlanLike | null): Map<string, string[]> {
    const out = plan?.outputs["secrets"];
    const users = new Map<string, string[]>();
    if (out && typeof out === "object")
        for (const [name, v] of Object.entries(out as Record<string, unknown>)) {
            const usedBy = (v as { usedBy?: unknown } | null)?.usedBy;
            users.set(name, Array.isArray(usedBy) ? usedBy.filter((x): x is string => typeof x === "string") : []);
        }
    return users;
}

/** The secrets whose ciphertext differs between the stack files, with the containers that take each (head's, else base's). */
function secretChanges(config: readonly ConfigChange[], base: PlanLike | null, head: PlanLike): SecretChange[] {
    const change = config.find((c) => c.key === SECRETS_KEY);
    if (!change) return [];
    const [headUsers, baseUsers] = [secretUsers(head), secretUsers(base)];
    const paths = change.secretPaths && change.secretPaths.length > 0 ? change.secretPaths : [{ path: "", kind: change.kind }];
    return paths.map((p) => ({ name: p.path, change: p.kind, usedBy: headUsers.get(p.path) ?? baseUsers.get(p.path) ?? [] }));
}

/** The SHA-256 inside an artifact's object key. */
export function artifactSha(key: unknown): string | undefined {
    return typeof key === "string" ? /[0-9a-f]{64}/.exec(key)?.[0] : undefined;
}

function byName<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
    return new Map(items.map((t) => [key(t), t]));
}

function namedChanges<T>(base: readonly T[], head: readonly T[], key: (t: T) => string, same: (a: T, b: T) => boolean): NamedChanges {
    const b = byName(base, key);
    const h = byName(head, key);
    return {
        added: head.map(key).filter((k) => !b.has(k)),
        removed: base.map(key).filter((k) => !h.has(k)),
        changed: head.filter((t) => b.has(key(t)) && !same(b.get(key(t))!, t)).map(key),
    };
}

const sameText = (a: DocText, b: DocText) => a.content === b.content && deepEqual(a.settings, b.settings);
const sameContent = (a: DocText, b: DocText) => a.content === b.content;

/** The artifact: its key names the bytes. */
function artifactChange(base: PlanLike | null, head: PlanLike, listed: SummaryOptions["artifactFiles"]): Decision["artifact"] {
    const before = base ? (base.outputs["artifactObjectKey"] as string | undefined) : undefined;
    const after = head.outputs["artifactObjectKey"] as string | undefined;
    const sorted = (files: Readonly<Record<string, string>>) =>
        Object.keys(files)
            .sort()
            .map((p) => [p, files[p]!] as const);
    const files = listed
        ? namedChanges(
              sorted(listed.base),
              sorted(listed.head),
              ([p]) => p,
              (a, b) => a[1] === b[1],
          )
        : undefined;
    return { before, after, changed: before !== after, ...(files ? { files } : {}) };
}

/** Units by name; a unit that differs only by the artifact's hash changed because of it. */
function unitChanges(
    hasBase: boolean,
    baseDoc: UserDataView,
    headDoc: UserDataView,
    artifact: Decision["artifact"],
    same: (a: DocText, b: DocText) => boolean,
): UnitChanges {
    const units = namedChanges(baseDoc.units, headDoc.units, (u) => u.name, same);
    const baseUnits = byName(baseDoc.units, (u) => u.name);
    const headUnits = byName(headDoc.units, (u) => u.name);
    const shaBefore = artifactSha(artifact.before);
    const shaAfter = artifactSha(artifact.after);
    const onlyByArtifact = (b: string, h: string) =>
        // Stryker disable next-line LogicalOperator,ConditionalExpression: `artifact.changed` and `b !== h` add nothing to the last test: an unchanged key has one SHA (swapping it for itself changes nothing), and a changed unit with b === h differs in settings, which the caller has already ruled out
        artifact.changed && !!shaBefore && !!shaAfter && b !== h && b.split(shaBefore).join(shaAfter) === h;
    const onlyArtifact = units.changed.filter((n) => {
        const b = baseUnits.get(n)!;
        const h = headDoc.units.find((u) => u.name === n)!;
        return (same === sameContent || deepEqual(b.settings, h.settings)) && onlyByArtifact(b.content, h.content);
    });
    const common = (names: string[], other: Map<string, unknown>) => names.filter((n) => other.has(n));
    const reordered =
        hasBase &&
        !deepEqual(
            common(
                baseDoc.units.map((u) => u.name),
                headUnits,
            ),
            common(
                headDoc.units.map((u) => u.name),
                baseUnits,
            ),
        );
    return { ...units, reordered, onlyArtifact };
}

const covers = (paths: readonly string[], p: string) => paths.some((i) => p === i || p.startsWith(`${i}.`) || p.startsWith(`${i}[`));

/** One changed input of the instance through the table; the head's options decide, as the engine applies the new program's. */
function classifyInput(c: ValueChange, headInstance: PlanResource): HostInputChange {
    const { key, rule } = effectiveRule(c.path, headInstance.inputs);
    const input = (effect: HostInputChange["effect"], note: string): HostInputChange => ({
        path: c.path,
        rule: key,
        effect,
        note,
        before: c.before,
        after: c.after,
    });
    // Stryker disable next-line ArrayDeclaration: diffValues writes a key that is not an identifier as `["…"]`, so no input path equals or starts with Stryker's placeholder word: such a list is as empty as []
    const { ignoreChanges = [], replaceOnChanges = [] }: PlanOptions = headInstance.options ?? {};
    if (covers(ignoreChanges, c.path)) return input("ignored", "under ignoreChanges: the engine leaves the running host's value");
    if (replaceOnChanges.includes("*") || covers(replaceOnChanges, c.path)) return input("replace", "under replaceOnChanges");
    return input(rule.effect, rule.note);
}

/** Why the user-data changed, in the reviewer's terms: a change of format or delivery first. */
function userDataCauses(
    delivery: readonly UserDataCause[],
    artifactChanged: boolean,
    units: UnitChanges,
    files: NamedChanges,
    otherKeys: readonly string[],
): UserDataCause[] {
    const causes: UserDataCause[] = [...delivery];
    if (artifactChanged) causes.push({ kind: "artifact", units: units.onlyArtifact });
    const changed = units.changed.filter((n) => !units.onlyArtifact.includes(n));
    for (const [change, names] of [
        ["changed", changed],
        ["added", units.added],
        ["removed", units.removed],
    ] as const) {
        if (names.length) causes.push({ kind: "units", change, names });
    }
    if (units.reordered) causes.push({ kind: "start-order" });
    for (const [change, paths] of [
        ["changed", files.changed],
        ["added", files.added],
        ["removed", files.removed],
    ] as const) {
        if (paths.length) causes.push({ kind: "files", change, paths });
    }
    for (const key of otherKeys) causes.push({ kind: "key", key });
    if (causes.length === 0) causes.push({ kind: "formatting" });
    return causes;
}

const isUserData = (rule: string) => rule === "userData" || rule === "userDataBase64";

/** Replaced when any input change replaces, else updated when any updates; the reasons are the changes that decided. */
function hostVerdict(
    hasBase: boolean,
    baseInstance: PlanResource | undefined,
    headInstance: PlanResource | undefined,
    hostInputs: readonly HostInputChange[],
    causes: readonly UserDataCause[],
): { host: HostVerdict; reasons: HostReason[] } {
    if (!headInstance && !baseInstance) return { host: "none", reasons: [] };
    if (!baseInstance) return { host: "create", reasons: [{ kind: hasBase ? "no-base-instance" : "no-base-stack" }] };
    if (!headInstance) return { host: "delete", reasons: [{ kind: "no-head-instance" }] };
    const replacing = hostInputs.filter((c) => c.effect === "replace");
    const updating = hostInputs.filter((c) => c.effect === "update");
    const host = replacing.length ? "replace" : updating.length ? "update" : "none";
    const deciding = replacing.length ? replacing : updating;
    // userData and userDataBase64 are one user-data: a move from one to the other is one reason.
    const reasons: HostReason[] = deciding.filter((c) => !isUserData(c.rule)).map((c) => ({ kind: "input", change: c }));
    const userDataAt = deciding.findIndex((c) => isUserData(c.rule));
    if (userDataAt >= 0)
        // Stryker disable next-line MethodExpression: the slice ends before the first user-data change, so the filter removes nothing from it
        reasons.splice(deciding.slice(0, userDataAt).filter((c) => !isUserData(c.rule)).length, 0, { kind: "user-data", causes });
    return { host, reasons };
}

function parseJsonObject(v: unknown): unknown {
    if (typeof v !== "string" || !/^\s*[{[]/.test(v)) return undefined;
    try {
        return JSON.parse(v) as unknown;
    } catch {
        return undefined;
    }
}

/** An input that is JSON text (an IAM policy): the paths inside it, e.g. `policy.Statement[0].Resource[0]`. */
function expandJson(c: ValueChange): ValueChange[] {
    const before = parseJsonObject(c.before);
    const after = parseJsonObject(c.after);
    return before !== undefined && after !== undefined ? diffValues(before, after, c.path) : [c];
}

/**
 * Resources other than the instance that were added, removed, or whose inputs differ, by type and name.
 * A change that only puts the head's user-data SHA-256 where the base's was (the report grant, the
 * cutover gate) is part of the host's replacement, not a change of its own.
 */
function resourceChanges(base: PlanLike | null, head: PlanLike): ResourceChange[] {
    const [shaBefore, shaAfter] = [base?.outputs["userDataSha256"], head.outputs["userDataSha256"]];
    const followsUserData = (c: ValueChange) =>
        typeof shaBefore === "string" &&
        typeof shaAfter === "string" &&
        // Stryker disable next-line ConditionalExpression: with equal SHAs the swap is the identity, and a change's two sides differ
        shaBefore !== shaAfter &&
        typeof c.before === "string" &&
        // Stryker disable next-line ConditionalExpression: `=== c.after` below can only hold for a string, the swap's result
        typeof c.after === "string" &&
        c.before.split(shaBefore).join(shaAfter) === c.after;
    const id = (r: { type: string; name: string }) => `${r.type}\0${r.name}`;
    const b = new Map((base?.resources ?? []).map((r) => [id(r), r]));
    const h = new Map(head.resources.map((r) => [id(r), r]));
    const out: ResourceChange[] = [];
    for (const key of [...new Set([...b.keys(), ...h.keys()])].sort()) {
        const br = b.get(key);
        const hr = h.get(key);
        const r = (hr ?? br)!;
        if (r.type === INSTANCE_TYPE) continue;
        if (!br) out.push({ type: r.type, name: r.name, kind: "added", changes: [] });
        else if (!hr) out.push({ type: r.type, name: r.name, kind: "removed", changes: [] });
        else {
            const changes = diffValues(br.inputs, hr.inputs)
                .flatMap(expandJson)
                .filter((c) => !followsUserData(c));
            if (changes.length > 0) out.push({ type: r.type, name: r.name, kind: "changed", changes });
        }
    }
    return out;
}

/** The data volume's inputs that replace it (terraform-provider-aws ebs_volume.go: ForceNew). */
const VOLUME_REPLACING_INPUTS = ["availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "type"];

/**
 * A data volume that would be replaced or removed. Its size, IOPS, throughput and tags change in place;
 * `type` is not ForceNew in the provider, but leaving gp3 is not what this program does, so it is named too.
 */
function dataVolumeWarnings(changes: readonly ResourceChange[]): HostWarning[] {
    return changes
        .filter((r) => r.type === "aws:ebs/volume:Volume")
        .flatMap((r): HostWarning[] => {
            if (r.kind === "removed") return [{ kind: "data-volume", name: r.name, change: "removed", inputs: [] }];
            const inputs = [...new Set(r.changes.map((c) => c.path.split(/[.[]/)[0]!))].filter((k) => VOLUME_REPLACING_INPUTS.includes(k));
            // Stryker disable next-line ConditionalExpression: an added volume has no changes, so no inputs
            return r.kind === "changed" && inputs.length ? [{ kind: "data-volume", name: r.name, change: "replaced", inputs }] : [];
        });
}

/** The texts to diff of one kind: changed, then added, then removed. */
function textChanges<T extends DocText>(
    what: TextChange["what"],
    base: readonly T[],
    head: readonly T[],
    changes: NamedChanges,
    key: (t: T) => string,
    onlyArtifact: readonly string[] = [],
): TextChange[] {
    const b = byName(base, key);
    const h = byName(head, key);
    return [
        ...changes.changed.map((name): TextChange => ({
            what,
            name,
            change: "changed",
            before: b.get(name)!,
            after: h.get(name)!,
            onlyArtifact: onlyArtifact.includes(name),
        })),
        ...changes.added.map((name): TextChange => ({ what, name, change: "added", after: h.get(name)!, onlyArtifact: false })),
        ...changes.removed.map((name): TextChange => ({ what, name, change: "removed", before: b.get(name)!, onlyArtifact: false })),
    ];
}
