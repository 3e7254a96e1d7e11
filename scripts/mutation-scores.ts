// Per-module and per-file mutation scores from Stryker's JSON report(s): `npm run mutation` prints
// them after each run. Runs of part of the tree (`npx stryker run --mutate units/quote.ts`) add up:
// each report is kept under .cache/mutation/runs/ (one per set of files it covers), and for each
// source file the newest report that has it counts.
//
//   tsx scripts/mutation-scores.ts                print the table
//   tsx scripts/mutation-scores.ts --survivors    also list each surviving or uncovered mutant
//   tsx scripts/mutation-scores.ts --min 85       exit 1 when a module scores below 85%
//
// The score is Stryker's: detected (killed or timed out) over valid mutants (detected, survived,
// not covered). Ignored mutants (disabled with a reason, or static with `ignoreStatic`) and mutants
// that do not compile are not valid; the table counts them apart so none disappears unseen.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const DIR = path.resolve(__dirname, "../.cache/mutation");
const LATEST = path.join(DIR, "mutation.json");
const RUNS = path.join(DIR, "runs");

/** The modules issue 10 names, in the order printed: a file belongs to the first whose prefix it has. */
export const MODULES = ["units/", "formats/", "packing/", "config.ts", "scripts/diff/decide.ts"] as const;

interface Mutant {
    readonly id: string;
    readonly mutatorName: string;
    readonly replacement?: string;
    readonly status: string;
    readonly statusReason?: string;
    readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

interface Report {
    readonly files: Readonly<Record<string, { readonly mutants: readonly Mutant[] }>>;
}

export interface Tally {
    killed: number;
    timeout: number;
    survived: number;
    noCoverage: number;
    ignored: number;
    invalid: number;
}

const empty = (): Tally => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, invalid: 0 });

export function tally(mutants: readonly Mutant[], into: Tally = empty()): Tally {
    for (const m of mutants) {
        if (m.status === "Killed") into.killed++;
        else if (m.status === "Timeout") into.timeout++;
        else if (m.status === "Survived") into.survived++;
        else if (m.status === "NoCoverage") into.noCoverage++;
        else if (m.status === "Ignored") into.ignored++;
        else into.invalid++; // CompileError, RuntimeError, Pending
    }
    return into;
}

/** Stryker's mutation score in percent, or undefined when no mutant is valid. */
export function score(t: Tally): number | undefined {
    const valid = t.killed + t.timeout + t.survived + t.noCoverage;
    return valid === 0 ? undefined : (100 * (t.killed + t.timeout)) / valid;
}

export function moduleOf(file: string): string {
    return MODULES.find((m) => (m.endsWith("/") ? file.startsWith(m) : file === m)) ?? "(other)";
}

/** Keeps the latest report under runs/, named by the files it covers, so a rerun of the same files replaces it. */
function archiveLatest(): void {
    if (!fs.existsSync(LATEST)) return;
    const text = fs.readFileSync(LATEST, "utf8");
    const files = Object.keys((JSON.parse(text) as Report).files).sort();
    const name = createHash("sha256").update(files.join("\n")).digest("hex").slice(0, 16);
    fs.mkdirSync(RUNS, { recursive: true });
    fs.writeFileSync(path.join(RUNS, `${name}.json`), text);
    fs.utimesSync(path.join(RUNS, `${name}.json`), fs.statSync(LATEST).atime, fs.statSync(LATEST).mtime);
}

/** For each source file, its mutants in the newest report that has it. */
function mergedReports(): Map<string, { mutants: readonly Mutant[]; at: Date }> {
    const reports = fs.existsSync(RUNS) ? fs.readdirSync(RUNS).filter((f) => f.endsWith(".json")) : [];
    const byFile = new Map<string, { mutants: readonly Mutant[]; at: Date }>();
    for (const f of reports) {
        const file = path.join(RUNS, f);
        const at = fs.statSync(file).mtime;
        const report = JSON.parse(fs.readFileSync(file, "utf8")) as Report;
        for (const [source, { mutants }] of Object.entries(report.files)) {
            const seen = byFile.get(source);
            if (!seen || seen.at < at) byFile.set(source, { mutants, at });
        }
    }
    return byFile;
}

const pct = (s: number | undefined) => (s === undefined ? "   n/a" : `${s.toFixed(1).padStart(5)}%`);

function row(name: string, t: Tally, note = ""): string {
    const cells = [t.killed + t.timeout, t.survived, t.noCoverage, t.ignored, t.invalid].map((n) => String(n).padStart(9));
    return `${name.padEnd(40)} ${pct(score(t))} ${cells.join("")}${note}`;
}

function main(): void {
    const args = process.argv.slice(2);
    const minAt = args.indexOf("--min");
    const min = minAt >= 0 ? Number(args[minAt + 1]) : undefined;
    archiveLatest();
    const byFile = mergedReports();
    if (byFile.size === 0) {
        console.error(`no Stryker report in ${path.relative(process.cwd(), DIR)}: run npm run mutation first`);
        process.exit(1);
    }
    const header = `${"".padEnd(40)}  score${["detected", "survived", "no cover", "ignored", "invalid"].map((h) => h.padStart(9)).join("")}`;
    const modules = new Map<string, Tally>();
    const lines: string[] = [];
    for (const file of [...byFile.keys()].sort()) {
        const { mutants, at } = byFile.get(file)!;
        const t = tally(mutants);
        tally(mutants, modules.get(moduleOf(file)) ?? modules.set(moduleOf(file), empty()).get(moduleOf(file))!);
        lines.push(row(`  ${file}`, t, `  (${at.toISOString().slice(0, 16).replace("T", " ")})`));
        if (args.includes("--survivors")) {
            for (const m of mutants.filter((x) => x.status === "Survived" || x.status === "NoCoverage")) {
                const what = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 100);
                lines.push(`      ${m.status} ${file}:${m.location.start.line}:${m.location.start.column + 1} ${m.mutatorName} → ${what}`);
            }
        }
    }
    console.log("Mutation scores by module (Stryker: detected / (detected + survived + no coverage))");
    console.log(header);
    let below = false;
    for (const m of [...MODULES, "(other)"]) {
        const t = modules.get(m);
        if (!t) {
            if (m !== "(other)") console.log(`${m.padEnd(40)}    not run`);
            continue;
        }
        const s = score(t);
        if (min !== undefined && s !== undefined && s < min) below = true;
        console.log(row(m, t));
    }
    console.log("\nBy file (newest run of each file):");
    console.log(header);
    for (const l of lines) console.log(l);
    if (below) {
        console.error(`\na module scores below ${min}%`);
        process.exit(1);
    }
}

if (require.main === module) main();
