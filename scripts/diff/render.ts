// A Decision (decide.ts) → the reviewer's Markdown: the headline, the summary tables, then the diffs,
// laid out within the budget (markdown.ts). Pure: no Pulumi, no I/O.
import { ConfigView, secureTexts } from "./config";
import { SECRETS_KEY, artifactSha } from "./decide";
import { COMMENT_BUDGET, DiffBlock, code, layout, unifiedLines, wholeLines } from "./markdown";
import type {
    Decision,
    HostInputChange,
    HostReason,
    HostVerdict,
    HostWarning,
    NamedChanges,
    SecretChange,
    SummaryOptions,
    TextChange,
    UserDataCause,
} from "./summary";
import { diffValues, shortValue } from "./values";

/** The Markdown of a decision, cut to `opts.budget`; the headline is its first line. Secure config values are scrubbed. */
export function render(d: Decision, opts: SummaryOptions): { markdown: string; headline: string; truncated: boolean } {
    const headline = headlineText(d, opts.stack);
    const blocks = d.texts.map((t) => diffBlock(t, opts.context ?? 3));
    const lines = [
        headline,
        "",
        ...d.warnings.flatMap((w) => [`> ⚠️ ${warningText(w)}`, ""]),
        ...overview(d, opts),
        ...hostSection(d),
        ...artifactSection(d, opts.artifactFiles),
        ...configSection(d),
        ...resourcesSection(d),
        ...(blocks.length ? ["### Diffs", ""] : []),
    ];
    const secrets = secretsOf(opts.config);
    const seeAlso = opts.seeAlso ?? `see the job summary / run \`npm run diff -- --base <ref> --stack ${opts.stack}\` locally`;
    const redacted = blocks.map((b) => ({ heading: redact(b.heading, secrets), lines: b.lines.map((l) => redact(l, secrets)) }));
    const { text, truncated } = layout(redact(lines.join("\n"), secrets), redacted, opts.budget ?? COMMENT_BUDGET, seeAlso);
    return { markdown: text, headline: redact(headline, secrets), truncated };
}

/** One reason for the host's verdict, as a phrase (Markdown). */
export function reasonText(r: HostReason, stack: string): string {
    switch (r.kind) {
        case "input": {
            const c = r.change;
            const values =
                shortValue(c.before, 60) !== undefined && shortValue(c.after, 60) !== undefined
                    ? ` (${cell(c.before)} → ${cell(c.after)})`
                    : "";
            return `${code(c.path)} changed${values}: ${c.note}`;
        }
        case "user-data": {
            const [first, ...rest] = r.causes;
            if (first?.kind === "format")
                return `its user-data format changed (${code(first.before)} → ${code(first.after)})${rest.length ? `: ${rest.map(causeText).join("; ")}` : ""}`;
            return `its user-data changed: ${r.causes.map(causeText).join("; ")}`;
        }
        case "secrets":
            return `${r.secrets.map(secretText).join("; ")}: a new value is a new version of its SSM parameter, which the user-data names`;
        case "no-base-instance":
            return "the base revision has no instance";
        case "no-base-stack":
            return `the stack ${code(stack)} does not exist at the base revision`;
        case "no-head-instance":
            return "the head revision has no instance";
    }
}

const DELIVERY_TEXT = {
    inline: "as plain text",
    gzip: "gzip'd (it no longer fits EC2's 16,384 bytes as text)",
    fetched: "as a stub that fetches its config",
};

/** "secret `x` of container `y` changed" — never a value. */
export function secretText(c: SecretChange): string {
    const of = c.usedBy.length ? ` of ${c.usedBy.length === 1 ? "container" : "containers"} ${list(c.usedBy)}` : "";
    return `secret ${code(c.name)}${of} ${c.change}`;
}

function causeText(c: UserDataCause): string {
    switch (c.kind) {
        case "format":
            return `its user-data format changed (${code(c.before)} → ${code(c.after)})`;
        case "delivery":
            return c.after === "inline"
                ? "the document is sent as plain text again (it fits EC2's limit)"
                : `the document is now sent ${DELIVERY_TEXT[c.after]}`;
        case "artifact":
            return `the artifact changed${c.units.length ? ` (${list(c.units)} name${c.units.length === 1 ? "s" : ""} the new key)` : ""}`;
        case "units":
            return `${list(c.names)} ${c.change}`;
        case "start-order":
            return "the units' start order changed";
        case "files":
            return `${c.paths.length === 1 ? "file" : "files"} ${list(c.paths)} ${c.change}`;
        case "key":
            return `${code(c.key)} changed`;
        case "formatting":
            return "its text changed (no unit, file or key differs: formatting)";
    }
}

/** A warning for the reader (Markdown). */
export function warningText(w: HostWarning): string {
    switch (w.kind) {
        case "ignored-ami":
            return `The looked-up AMI differs (${code(String(w.before))} → ${code(String(w.after))}), but the program ignores AMI changes unless \`coreos-containers:ami\` pins one: the running host keeps its AMI.`;
        case "data-volume":
            return w.change === "removed"
                ? `The data volume ${code(w.name)} leaves the stack: \`pulumi up\` fails on its protection; the volume is kept in AWS even once unprotected (README, "Protection, and deleting the volume on purpose").`
                : `The data volume ${code(w.name)} would be replaced (${w.inputs.map(code).join(", ")} changed): \`pulumi up\` fails on its protection; a new volume would not hold its data (README, "Restoring the data volume from a snapshot").`;
    }
}

function headlineText(d: Decision, stack: string): string {
    const because = d.reasons.length ? ` because ${d.reasons.map((r) => reasonText(r, stack)).join("; ")}.` : ".";
    switch (d.host) {
        case "replace":
            return `**The host will be replaced**${because}`;
        case "update":
            return `**The host will be updated in place**${because}`;
        case "create":
            return `**The host will be created**${because}`;
        case "delete":
            return `**The host will be deleted**${because}`;
        case "none": {
            const others = d.resources.length;
            return others
                ? `**No change to the host.** ${plural(others, "other resource")} change${others === 1 ? "s" : ""}: ${list(d.resources.map((r) => r.name))}.`
                : `**No change to the host.** Nothing else changes either.`;
        }
    }
}

const VERDICT_TEXT: Record<HostVerdict, string> = {
    replace: "**replaced**",
    update: "updated in place",
    none: "no change",
    create: "created",
    delete: "deleted",
};

function countText(c: NamedChanges, noun: string): string {
    const parts = [
        c.changed.length ? `${c.changed.length} changed (${list(c.changed)})` : "",
        c.added.length ? `${c.added.length} added (${list(c.added)})` : "",
        c.removed.length ? `${c.removed.length} removed (${list(c.removed)})` : "",
    ].filter(Boolean);
    return parts.length ? parts.join(", ") : `no ${noun} changed`;
}

/** The sentence on what was compared, and the one table: always shown whole. */
function overview(d: Decision, opts: SummaryOptions): string[] {
    const sides = `${opts.baseLabel ?? "the base revision"} → ${opts.headLabel ?? "the head revision"}`;
    const { config, resources, artifact } = d;
    return [
        `Offline plan of stack ${code(opts.stack)}: ${sides}. Rendered under Pulumi mocks, without the cloud; the \`pulumi preview\` comment is the provider's own verdict.`,
        "",
        "| | |",
        "| --- | --- |",
        `| Host ${code(d.hostName)} | ${VERDICT_TEXT[d.host]} |`,
        `| Units | ${countText(d.units, "unit")}${d.units.reordered ? "; start order changed" : ""} |`,
        `| Files written by the user-data | ${countText(d.files, "file")} |`,
        `| Artifact | ${artifact.changed ? `${code(shortKey(artifact.before))} → ${code(shortKey(artifact.after))}` : "no change"} |`,
        `| Stack config | ${config ? (config.length ? `${plural(config.length, "key")} changed (${list(config.map((c) => c.key))})` : "no change") : "not compared"} |`,
        `| Other resources | ${resources.length ? `${plural(resources.length, "resource")} changed (${list(resources.map((r) => r.name))})` : "no change"} |`,
        ...(d.cutover ? [`| Cutover | ${cutoverText(d)} |`] : []),
        "",
    ];
}

/** How the new host goes live: through the readiness gate (how long it may wait), or not. */
export function cutoverText(d: Pick<Decision, "host" | "cutover">): string {
    const c = d.cutover;
    if (!c) return "";
    if (!c.gated) return "no readiness gate: the address moves as soon as EC2 reports the new instance running";
    const wait = `waits at most ${c.timeoutMinutes !== undefined ? `${c.timeoutMinutes} min` : "the configured time"} (\`coreos-containers:readyTimeoutMinutes\`)`;
    return d.host === "create"
        ? `through the readiness gate: the address is bound once the new host reports ready; ${wait}`
        : `through the readiness gate: the address moves to the new host only once it reports every container healthy; ${wait}, else \`pulumi up\` fails and the address stays on the old host; then the old host is retired`;
}

/** The instance's changed inputs, each with its effect. */
function hostSection(d: Decision): string[] {
    if (!d.hostInputs.length) return [];
    const order = {
        "delete-first":
            "The old instance is deleted before the new one is created (deleteBeforeReplace): the host is down until the new one has booted and provisioned.",
        "create-first": "The new instance is created before the old one is deleted (Pulumi's default).",
    };
    return [
        `### Host ${code(d.hostName)}`,
        "",
        ...(d.replaceOrder ? [order[d.replaceOrder], ""] : []),
        "| Input | Before | After | Effect |",
        "| --- | --- | --- | --- |",
        ...d.hostInputs.map(inputRow),
        "",
    ];
}

function inputRow(c: HostInputChange): string {
    const isUserData = c.rule === "userData" || c.rule === "userDataBase64";
    // userDataBase64 carries base64: count the bytes EC2 receives.
    const bytes = (v: unknown) =>
        `${typeof v === "string" ? (c.rule === "userDataBase64" ? Buffer.from(v, "base64").length : Buffer.byteLength(v)) : 0} bytes`;
    const before = isUserData ? bytes(c.before) : cell(c.before);
    const after = isUserData ? bytes(c.after) : cell(c.after);
    const effect = c.effect === "replace" ? "**replace**" : c.effect === "update" ? "update in place" : "ignored";
    return `| ${code(c.path)} | ${before} | ${after} | ${effect}: ${c.note} |`;
}

/** The artifact's key before → after, and which files under its folder changed when they were listed. */
function artifactSection(d: Decision, listed: SummaryOptions["artifactFiles"]): string[] {
    const { before, after, changed, files } = d.artifact;
    const fileChanges = files ? files.added.length + files.removed.length + files.changed.length : 0;
    if (!changed && !fileChanges) return [];
    const lines = ["### Artifact", "", `${code(before ?? "(none)")} → ${code(after ?? "(none)")}`, ""];
    if (files && listed) {
        const dirs =
            listed.baseDir === listed.headDir
                ? code(listed.headDir ?? "the artifact folder")
                : `${code(listed.baseDir ?? "?")} → ${code(listed.headDir ?? "?")}`;
        if (fileChanges) {
            lines.push(`Files under ${dirs}:`, "");
            for (const [what, names] of [
                ["changed", files.changed],
                ["added", files.added],
                ["removed", files.removed],
            ] as const) {
                if (names.length) lines.push(`- ${what}: ${names.map(code).join(", ")}`);
            }
            lines.push("");
        } else {
            lines.push(
                `No file under ${dirs} changed: the difference is in the image tarballs the units load, or in how the artifact is packed.`,
                "",
            );
        }
    } else {
        lines.push("Which files inside it changed is not known here: the plan names only the key.", "");
    }
    if (listed?.note) lines.push(listed.note, "");
    return lines;
}

function configSection(d: Decision): string[] {
    if (!d.config?.length) return [];
    const row = (c: NonNullable<Decision["config"]>[number]) => {
        const secretOf = (path: string) => (c.key === SECRETS_KEY ? d.secrets.find((x) => x.name === path) : undefined);
        const paths = (c.secretPaths ?? []).filter((p) => p.path !== "");
        const what = c.secret
            ? paths.length
                ? paths
                      .map((p) => {
                          const s = secretOf(p.path);
                          return s ? secretText(s) : `${code(p.path)} ${p.kind}`;
                      })
                      .join("<br>") + " (secret; values not shown)"
                : `${c.kind} (secret; value not shown)`
            : c.changes.map((v) => `${v.path ? `${code(v.path)}: ` : ""}${cell(v.before)} → ${cell(v.after)}`).join("<br>");
        return `| ${code(c.key)} | ${what} |`;
    };
    return ["### Stack config", "", "| Key | Change |", "| --- | --- |", ...d.config.map(row), ""];
}

function resourcesSection(d: Decision): string[] {
    if (!d.resources.length) return [];
    const row = (r: Decision["resources"][number]) => {
        const values = (v: (typeof r.changes)[number]) =>
            shortValue(v.before, 60) !== undefined && shortValue(v.after, 60) !== undefined ? `: ${cell(v.before)} → ${cell(v.after)}` : "";
        const what =
            r.kind !== "changed"
                ? r.kind
                : r.changes
                      .slice(0, 8)
                      .map((v) => `${code(v.path || "(all)")}${values(v)}`)
                      .join("<br>") + (r.changes.length > 8 ? `<br>… and ${r.changes.length - 8} more` : "");
        return `| ${code(r.type)} ${code(r.name)} | ${what} |`;
    };
    return [
        "### Other resources",
        "",
        "Inputs that differ; the `pulumi preview` comment says whether each is updated or replaced.",
        "",
        "| Resource | Change |",
        "| --- | --- |",
        ...d.resources.map(row),
        "",
    ];
}

/** One unit's or file's diff: the whole text when added or removed, the changed lines with `context` around them otherwise. */
function diffBlock(t: TextChange, context: number): DiffBlock {
    const title = t.what === "file" ? `#### File ${code(t.name)}` : `#### ${code(t.name)}`;
    if (t.change === "added") return { heading: `${title} added`, lines: wholeLines(t.after!.content, "+") };
    if (t.change === "removed") return { heading: `${title} removed`, lines: wholeLines(t.before!.content, "-") };
    const settings = diffValues(t.before!.settings, t.after!.settings)
        .map((c) => `${code(c.path)}: ${cell(c.before)} → ${cell(c.after)}`)
        .join(", ");
    const why = t.onlyArtifact ? " (only the artifact's key and hash)" : "";
    return {
        heading: `${title} changed${why}${settings ? `\n\n${settings}` : ""}`,
        lines: unifiedLines(t.before!.content, t.after!.content, context),
    };
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

/** Every ciphertext in either side's config: never printed, even where a unit's text carries it. */
function secretsOf(config: { readonly base: ConfigView; readonly head: ConfigView } | undefined): string[] {
    return config
        ? [...Object.values(config.base), ...Object.values(config.head)].filter((e) => e.secret).flatMap((e) => secureTexts(e.value))
        : [];
}

function redact(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) if (s.length >= 8) out = out.split(s).join("[secret]");
    return out;
}
