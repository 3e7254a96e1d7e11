// Two offline plans (base and head) → what a reviewer needs: will the host be replaced, and why;
// which units, files, artifact files, config keys and resources changed; the diffs, within a budget.
//
// Pure: plain plans in, a Summary (with its Markdown) out. No Pulumi, no I/O, no clock. The CLI
// (scripts/diff.ts) makes the plans and reads the files.
import { CloudConfigView, DocFile, DocUnit, readCloudConfig } from "./cloudconfig";
import { ConfigChange, ConfigView, configChanges, secureTexts } from "./config";
import { InputEffect, effectiveRule } from "./instance";
import { COMMENT_BUDGET, DiffBlock, code, layout, unifiedLines, wholeLines } from "./markdown";
import { ValueChange, deepEqual, diffValues, shortValue } from "./values";

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
    readonly userData: string;
}

export const INSTANCE_TYPE = "aws:ec2/instance:Instance";

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
}

export type HostVerdict = "replace" | "update" | "none" | "create" | "delete";

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
    readonly units: NamedChanges & { readonly reordered: boolean; readonly onlyArtifact: string[] };
    /** Files cloud-config writes, by path. */
    readonly files: NamedChanges;
    readonly artifact: {
        readonly before?: string;
        readonly after?: string;
        readonly changed: boolean;
        /** Files under the artifact folder, when the caller listed them. */
        readonly files?: NamedChanges;
    };
    readonly config: ConfigChange[];
    /** Resources other than the instance whose inputs differ. */
    readonly resources: ResourceChange[];
    readonly warnings: string[];
    readonly truncated: boolean;
}

const EMPTY_VIEW: CloudConfigView = { units: [], files: [], other: {} };

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

const sameUnit = (a: DocUnit | DocFile, b: DocUnit | DocFile) => a.content === b.content && deepEqual(a.settings, b.settings);

function artifactSha(key: unknown): string | undefined {
    return typeof key === "string" ? /[0-9a-f]{64}/.exec(key)?.[0] : undefined;
}

function list(names: readonly string[], max = 6): string {
    const shown = names.slice(0, max).map(code);
    const more = names.length - shown.length;
    const text = shown.length <= 1 ? shown.join("") : `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
    return more > 0 ? `${shown.join(", ")} and ${more} more` : text;
}

function plural(n: number, one: string, many = `${one}s`): string {
    return `${n} ${n === 1 ? one : many}`;
}

function cell(v: unknown): string {
    const s = shortValue(v, 60);
    return s === undefined ? "_(long value)_" : v === undefined ? "_(none)_" : code(s);
}

function shortKey(key: string | undefined): string {
    if (!key) return "(none)";
    const sha = artifactSha(key);
    return sha ? key.replace(sha, `${sha.slice(0, 12)}…`) : key;
}

function redact(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) if (s.length >= 8) out = out.split(s).join("[secret]");
    return out;
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

function resourceChanges(base: PlanLike | null, head: PlanLike): ResourceChange[] {
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
            const changes = diffValues(br.inputs, hr.inputs).flatMap(expandJson);
            if (changes.length > 0) out.push({ type: r.type, name: r.name, kind: "changed", changes });
        }
    }
    return out;
}

/** Compare two plans of one stack. `base` null: the stack does not exist at the base revision. */
export function summarize(base: PlanLike | null, head: PlanLike, opts: SummaryOptions): Summary {
    const baseDoc = base ? readCloudConfig(base.userData) : EMPTY_VIEW;
    const headDoc = readCloudConfig(head.userData);
    const context = opts.context ?? 3;

    // Artifact: the key names the bytes; a unit that differs only by the artifact's hash changed because of it.
    const keyBefore = base ? (base.outputs["artifactObjectKey"] as string | undefined) : undefined;
    const keyAfter = head.outputs["artifactObjectKey"] as string | undefined;
    const artifactChanged = keyBefore !== keyAfter;
    const shaBefore = artifactSha(keyBefore);
    const shaAfter = artifactSha(keyAfter);
    const onlyByArtifact = (b: string, h: string) => artifactChanged && !!shaBefore && !!shaAfter && b !== h && b.split(shaBefore).join(shaAfter) === h;

    const units = namedChanges(baseDoc.units, headDoc.units, (u) => u.name, sameUnit);
    const baseUnits = byName(baseDoc.units, (u) => u.name);
    const onlyArtifact = units.changed.filter((n) => {
        const b = baseUnits.get(n)!;
        const h = headDoc.units.find((u) => u.name === n)!;
        return deepEqual(b.settings, h.settings) && onlyByArtifact(b.content, h.content);
    });
    const common = (names: string[], other: Map<string, unknown>) => names.filter((n) => other.has(n));
    const headUnitNames = byName(headDoc.units, (u) => u.name);
    const reordered = base !== null && !deepEqual(common(baseDoc.units.map((u) => u.name), headUnitNames), common(headDoc.units.map((u) => u.name), baseUnits));
    const files = namedChanges(baseDoc.files, headDoc.files, (f) => f.path, sameUnit);
    const otherKeys = base ? diffValues(baseDoc.other, headDoc.other).map((c) => c.path.split(/[.[]/)[0]!) : [];
    const otherDocChanges = [...new Set(otherKeys)];

    // The instance: each changed input through the table.
    const baseInstance = base?.resources.find((r) => r.type === INSTANCE_TYPE);
    const headInstance = head.resources.find((r) => r.type === INSTANCE_TYPE);
    const hostName = headInstance?.name ?? baseInstance?.name ?? "host";
    const hostInputs: HostInputChange[] = [];
    const warnings: string[] = [];
    const headOptions = headInstance?.options;
    if (baseInstance && headInstance) {
        // The head's options decide, as the engine applies the new program's options to the diff.
        const ignored = (p: string) => (headOptions?.ignoreChanges ?? []).some((i) => p === i || p.startsWith(`${i}.`) || p.startsWith(`${i}[`));
        const forced = (p: string) => (headOptions?.replaceOnChanges ?? []).some((i) => i === "*" || p === i || p.startsWith(`${i}.`) || p.startsWith(`${i}[`));
        for (const c of diffValues(baseInstance.inputs, headInstance.inputs)) {
            const { key, rule } = effectiveRule(c.path, headInstance.inputs);
            if (ignored(c.path)) {
                hostInputs.push({ path: c.path, rule: key, effect: "ignored", note: "under ignoreChanges: the engine leaves the running host's value", before: c.before, after: c.after });
                if (key === "ami") {
                    warnings.push(`The looked-up AMI differs (${code(String(c.before))} → ${code(String(c.after))}), but the program ignores AMI changes unless \`coreos-containers:ami\` pins one: the running host keeps its AMI.`);
                }
                continue;
            }
            if (forced(c.path)) {
                hostInputs.push({ path: c.path, rule: key, effect: "replace", note: "under replaceOnChanges", before: c.before, after: c.after });
                continue;
            }
            hostInputs.push({ path: c.path, rule: key, effect: rule.effect, note: rule.note, before: c.before, after: c.after });
        }
    }

    // Why the user-data changed, in the reviewer's terms.
    const userDataCauses: string[] = [];
    const unitCauses = units.changed.filter((n) => !onlyArtifact.includes(n));
    if (artifactChanged && base) {
        userDataCauses.push(`the artifact changed${onlyArtifact.length ? ` (${list(onlyArtifact)} name${onlyArtifact.length === 1 ? "s" : ""} the new key)` : ""}`);
    }
    if (unitCauses.length) userDataCauses.push(`${list(unitCauses)} changed`);
    if (units.added.length) userDataCauses.push(`${list(units.added)} added`);
    if (units.removed.length) userDataCauses.push(`${list(units.removed)} removed`);
    if (reordered) userDataCauses.push("the units' start order changed");
    for (const [what, paths] of [["changed", files.changed], ["added", files.added], ["removed", files.removed]] as const) {
        if (paths.length) userDataCauses.push(`${paths.length === 1 ? "file" : "files"} ${list(paths)} ${what}`);
    }
    for (const k of otherDocChanges) userDataCauses.push(`${code(k)} changed`);
    if (userDataCauses.length === 0) userDataCauses.push("its text changed (no unit, file or key differs: formatting)");

    const reasonFor = (c: HostInputChange) => {
        if (c.rule === "userData" || c.rule === "userDataBase64") return `its user-data changed: ${userDataCauses.join("; ")}`;
        const values = shortValue(c.before, 60) !== undefined && shortValue(c.after, 60) !== undefined ? ` (${cell(c.before)} → ${cell(c.after)})` : "";
        return `${code(c.path)} changed${values}: ${c.note}`;
    };
    let host: HostVerdict;
    let reasons: string[];
    if (!headInstance && !baseInstance) {
        host = "none";
        reasons = [];
    } else if (!baseInstance) {
        host = "create";
        reasons = [base ? `the base revision has no instance` : `the stack ${code(opts.stack)} does not exist at the base revision`];
    } else if (!headInstance) {
        host = "delete";
        reasons = ["the head revision has no instance"];
    } else {
        const replacing = hostInputs.filter((c) => c.effect === "replace");
        const updating = hostInputs.filter((c) => c.effect === "update");
        host = replacing.length ? "replace" : updating.length ? "update" : "none";
        reasons = (replacing.length ? replacing : updating).map(reasonFor);
    }

    const config = opts.config ? configChanges(opts.config.base, opts.config.head) : [];
    const resources = resourceChanges(base, head);
    const artifactFiles = opts.artifactFiles
        ? namedChanges(
            Object.keys(opts.artifactFiles.base).sort().map((p) => [p, opts.artifactFiles!.base[p]!] as const),
            Object.keys(opts.artifactFiles.head).sort().map((p) => [p, opts.artifactFiles!.head[p]!] as const),
            ([p]) => p,
            (a, b) => a[1] === b[1],
        )
        : undefined;

    // The headline.
    let headline: string;
    const because = reasons.length ? ` because ${reasons.join("; ")}.` : ".";
    switch (host) {
        case "replace":
            headline = `**The host will be replaced**${because}`;
            break;
        case "update":
            headline = `**The host will be updated in place**${because}`;
            break;
        case "create":
            headline = `**The host will be created**${because}`;
            break;
        case "delete":
            headline = `**The host will be deleted**${because}`;
            break;
        default: {
            const others = resources.length;
            headline = others
                ? `**No change to the host.** ${plural(others, "other resource")} change${others === 1 ? "s" : ""}: ${list(resources.map((r) => r.name))}.`
                : `**No change to the host.** Nothing else changes either.`;
        }
    }

    // The summary part: always shown whole.
    const verdictText: Record<HostVerdict, string> = { replace: "**replaced**", update: "updated in place", none: "no change", create: "created", delete: "deleted" };
    const countText = (c: NamedChanges, noun: string) => {
        const parts = [
            c.changed.length ? `${c.changed.length} changed (${list(c.changed)})` : "",
            c.added.length ? `${c.added.length} added (${list(c.added)})` : "",
            c.removed.length ? `${c.removed.length} removed (${list(c.removed)})` : "",
        ].filter(Boolean);
        return parts.length ? parts.join(", ") : `no ${noun} changed`;
    };
    const head_: string[] = [headline, ""];
    for (const w of warnings) head_.push(`> ⚠️ ${w}`, "");
    const sides = `${opts.baseLabel ?? "the base revision"} → ${opts.headLabel ?? "the head revision"}`;
    head_.push(
        `Offline plan of stack ${code(opts.stack)}: ${sides}. Rendered under Pulumi mocks, without the cloud; the \`pulumi preview\` comment is the provider's own verdict.`,
        "",
        "| | |",
        "| --- | --- |",
        `| Host ${code(hostName)} | ${verdictText[host]} |`,
        `| Units | ${countText(units, "unit")}${reordered ? "; start order changed" : ""} |`,
        `| Files written by cloud-config | ${countText(files, "file")} |`,
        `| Artifact | ${artifactChanged ? `${code(shortKey(keyBefore))} → ${code(shortKey(keyAfter))}` : "no change"} |`,
        `| Stack config | ${opts.config ? (config.length ? `${plural(config.length, "key")} changed (${list(config.map((c) => c.key))})` : "no change") : "not compared"} |`,
        `| Other resources | ${resources.length ? `${plural(resources.length, "resource")} changed (${list(resources.map((r) => r.name))})` : "no change"} |`,
        "",
    );

    if (hostInputs.length) {
        head_.push(`### Host ${code(hostName)}`, "");
        if (host === "replace" && headOptions) {
            head_.push(
                headOptions.deleteBeforeReplace
                    ? "The old instance is deleted before the new one is created (deleteBeforeReplace): the host is down until the new one has booted and provisioned."
                    : "The new instance is created before the old one is deleted (Pulumi's default).",
                "",
            );
        }
        head_.push("| Input | Before | After | Effect |", "| --- | --- | --- | --- |");
        for (const c of hostInputs) {
            const isUserData = c.rule === "userData" || c.rule === "userDataBase64";
            const before = isUserData ? `${Buffer.byteLength(String(c.before ?? ""))} bytes` : cell(c.before);
            const after = isUserData ? `${Buffer.byteLength(String(c.after ?? ""))} bytes` : cell(c.after);
            const effect = c.effect === "replace" ? "**replace**" : c.effect === "update" ? "update in place" : "ignored";
            head_.push(`| ${code(c.path)} | ${before} | ${after} | ${effect}: ${c.note} |`);
        }
        head_.push("");
    }

    if (artifactChanged || (artifactFiles && [...artifactFiles.added, ...artifactFiles.removed, ...artifactFiles.changed].length)) {
        head_.push("### Artifact", "", `${code(keyBefore ?? "(none)")} → ${code(keyAfter ?? "(none)")}`, "");
        if (artifactFiles && opts.artifactFiles) {
            const dirs = opts.artifactFiles.baseDir === opts.artifactFiles.headDir
                ? code(opts.artifactFiles.headDir ?? "the artifact folder")
                : `${code(opts.artifactFiles.baseDir ?? "?")} → ${code(opts.artifactFiles.headDir ?? "?")}`;
            const any = artifactFiles.added.length + artifactFiles.removed.length + artifactFiles.changed.length;
            if (any) {
                head_.push(`Files under ${dirs}:`, "");
                for (const [what, names] of [["changed", artifactFiles.changed], ["added", artifactFiles.added], ["removed", artifactFiles.removed]] as const) {
                    if (names.length) head_.push(`- ${what}: ${names.map(code).join(", ")}`);
                }
                head_.push("");
            } else {
                head_.push(`No file under ${dirs} changed: the difference is in the image tarballs the units load, or in how the artifact is packed.`, "");
            }
        } else {
            head_.push("Which files inside it changed is not known here: the plan names only the key.", "");
        }
        if (opts.artifactFiles?.note) head_.push(opts.artifactFiles.note, "");
    }

    if (config.length) {
        head_.push("### Stack config", "", "| Key | Change |", "| --- | --- |");
        for (const c of config) {
            const what = c.secret
                ? `${c.kind} (secret; value not shown)`
                : c.changes
                    .map((v) => `${v.path ? `${code(v.path)}: ` : ""}${cell(v.before)} → ${cell(v.after)}`)
                    .join("<br>");
            head_.push(`| ${code(c.key)} | ${what} |`);
        }
        head_.push("");
    }

    if (resources.length) {
        head_.push("### Other resources", "", "Inputs that differ; the `pulumi preview` comment says whether each is updated or replaced.", "", "| Resource | Change |", "| --- | --- |");
        for (const r of resources) {
            const what = r.kind !== "changed"
                ? r.kind
                : r.changes.slice(0, 8).map((v) => `${code(v.path || "(all)")}${shortValue(v.before, 60) !== undefined && shortValue(v.after, 60) !== undefined ? `: ${cell(v.before)} → ${cell(v.after)}` : ""}`).join("<br>") +
                (r.changes.length > 8 ? `<br>… and ${r.changes.length - 8} more` : "");
            head_.push(`| ${code(r.type)} ${code(r.name)} | ${what} |`);
        }
        head_.push("");
    }

    // The diffs: cut to the budget.
    const blocks: DiffBlock[] = [];
    const headUnits = byName(headDoc.units, (u) => u.name);
    const settingsLine = (b: Readonly<Record<string, unknown>>, h: Readonly<Record<string, unknown>>) =>
        diffValues(b, h).map((c) => `${code(c.path)}: ${cell(c.before)} → ${cell(c.after)}`).join(", ");
    for (const n of units.changed) {
        const b = baseUnits.get(n)!;
        const h = headUnits.get(n)!;
        const settings = settingsLine(b.settings, h.settings);
        const why = onlyArtifact.includes(n) ? " (only the artifact's key and hash)" : "";
        blocks.push({ heading: `#### ${code(n)} changed${why}${settings ? `\n\n${settings}` : ""}`, lines: unifiedLines(b.content, h.content, context) });
    }
    for (const n of units.added) blocks.push({ heading: `#### ${code(n)} added`, lines: wholeLines(headUnits.get(n)!.content, "+") });
    for (const n of units.removed) blocks.push({ heading: `#### ${code(n)} removed`, lines: wholeLines(baseUnits.get(n)!.content, "-") });
    const baseFiles = byName(baseDoc.files, (f) => f.path);
    const headFiles = byName(headDoc.files, (f) => f.path);
    for (const p of files.changed) {
        const b = baseFiles.get(p)!;
        const h = headFiles.get(p)!;
        const settings = settingsLine(b.settings, h.settings);
        blocks.push({ heading: `#### File ${code(p)} changed${settings ? `\n\n${settings}` : ""}`, lines: unifiedLines(b.content, h.content, context) });
    }
    for (const p of files.added) blocks.push({ heading: `#### File ${code(p)} added`, lines: wholeLines(headFiles.get(p)!.content, "+") });
    for (const p of files.removed) blocks.push({ heading: `#### File ${code(p)} removed`, lines: wholeLines(baseFiles.get(p)!.content, "-") });
    if (blocks.length) head_.push("### Diffs", "");

    const secrets = opts.config ? [...Object.values(opts.config.base), ...Object.values(opts.config.head)].filter((e) => e.secret).flatMap((e) => secureTexts(e.value)) : [];
    const seeAlso = opts.seeAlso ?? `see the job summary / run \`npm run diff -- --base <ref> --stack ${opts.stack}\` locally`;
    const { text, truncated } = layout(redact(head_.join("\n"), secrets), blocks.map((b) => ({ heading: redact(b.heading, secrets), lines: b.lines.map((l) => redact(l, secrets)) })), opts.budget ?? COMMENT_BUDGET, seeAlso);

    return {
        markdown: text,
        headline: redact(headline, secrets),
        host,
        replaced: host === "replace",
        reasons,
        hostInputs,
        units: { ...units, reordered, onlyArtifact },
        files,
        artifact: { before: keyBefore, after: keyAfter, changed: artifactChanged, ...(artifactFiles ? { files: artifactFiles } : {}) },
        config,
        resources,
        warnings,
        truncated,
    };
}
