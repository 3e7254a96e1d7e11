// Real systemd 252 (Debian 12) as the test oracle for rendered units.
//
// Two tools:
// - `dumpUnits`: `/lib/systemd/systemd --test --system` loads the units exactly as PID 1 would and
//   dumps what it parsed. From that dump we read every `Exec*=` command back as an argv and every
//   `Environment=` assignment, so a test can compare them with what the model meant.
// - `verifyUnits`: `systemd-analyze verify --root=ROOT` over the units, with stubs for what a
//   Flatcar host provides.
//
// How systemd 252 prints a command line in the dump (`Command Line: …`, exec_command_dump() →
// quote_command_line(argv, SHELL_ESCAPE_EMPTY) → shell_maybe_quote() per word, words joined by one
// space). Checked empirically here, and in systemd's src/basic/escape.c:
// - The empty word prints as `""`.
// - A word with no ASCII whitespace (space, \t, \n, \r), no control character (< 0x20 or 0x7f), none
//   of  " \ ` $ * ? [ ' ( ) < > | & ; !  and only code points systemd calls valid prints as is.
//   Non-ASCII prints raw (é, 日本, emoji, U+00A0, U+0085, U+2028, U+FEFF); `%`, `#`, `=`, `-` too.
// - Any other word prints inside double quotes, where `\` " ` $ get a backslash, control characters
//   become \a \b \f \n \r \t \v or three-digit octal (\001, \177), and each UTF-8 byte of a code
//   point systemd calls invalid (noncharacters U+FDD0–U+FDEF, U+xFFFE, U+xFFFF) becomes octal
//   (\357\277\276). Everything else, including `'`, spaces and non-ASCII, is copied raw.
// - `%` specifiers are already expanded (`%n` shows the unit name, `%%` shows `%`), but `$` is not:
//   systemd substitutes variables when it runs the command (replace_env_argv()), so the dump shows
//   `$$` where the program will get `$`. `execTimeArgv` applies that last step.
// The decoder reverses this and then re-encodes its result: a line that does not come back
// byte-for-byte was not printed by these rules, and the decoder throws instead of guessing.
//
// `Environment:` lines are printed raw (`KEY=value`, no escaping). A value with a newline continues
// on the next dump line; the parser joins lines that do not start with a tab to the assignment before
// them. A value containing a newline followed by a tab cannot be told apart from the dump's own
// lines, so tests must not use one (none of ours does).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
    chmodSync,
    lstatSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    readlinkSync,
    renameSync,
    rmSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

/** A unit file to load: the shape of `RenderedUnit`. */
export interface UnitFile {
    readonly name: string;
    readonly content: string;
}

export const SYSTEMD = "/lib/systemd/systemd";
export const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";
/** `systemd --test` runs as nobody, so a test cannot touch this machine's own systemd state. */
const NOBODY = "65534";

/**
 * Units a Flatcar host provides that ours refer to, stubbed so that results do not depend on this
 * machine's units:
 * - sysinit.target: every service gets `Requires=sysinit.target` from DefaultDependencies=yes;
 *   without it `verify` fails with "Unit sysinit.target not found".
 * - docker.service: our units `Requires=` it; without it `verify` fails the same way.
 * - network-online.target: provision.service `Wants=` it (verify does not check Wants=).
 * - multi-user.target: the `[Install]` target (verify does not check [Install]).
 * basic.target and shutdown.target (DefaultDependencies' After=/Conflicts=) are not needed: verify
 * only insists on units that are required.
 */
export const FLATCAR_UNITS: readonly string[] = ["sysinit.target", "docker.service", "network-online.target", "multi-user.target"];

/** What every stub service runs. Created in a verify root; nothing of ours may refer to it. */
const STUB_EXECUTABLE = "/usr/libexec/coreos-containers-test/stub";

function stubUnit(name: string): UnitFile {
    const head = `[Unit]\nDescription=Stub for the host's ${name}\n`;
    if (name.endsWith(".target")) return { name, content: head };
    if (name.endsWith(".service")) return { name, content: `${head}\n[Service]\nType=oneshot\nExecStart=${STUB_EXECUTABLE}\n` };
    throw new Error(`no stub for ${name}: only .target and .service`);
}

function unitSet(units: readonly UnitFile[], hostUnits: readonly string[]): UnitFile[] {
    const ours = new Set(units.map((u) => u.name));
    if (ours.size !== units.length) throw new Error("two units with the same name");
    for (const name of hostUnits) if (ours.has(name)) throw new Error(`${name} is both ours and a stub`);
    return [...units, ...hostUnits.map(stubUnit)];
}

function writeUnits(dir: string, units: readonly UnitFile[]): void {
    for (const u of units) {
        if (u.name.includes("/")) throw new Error(`bad unit name ${u.name}`);
        const file = path.join(dir, u.name);
        writeFileSync(file, u.content);
        chmodSync(file, 0o644);
    }
}

function withTempDir<T>(use: (dir: string) => T): T {
    const dir = mkdtempSync(path.join(tmpdir(), "coreos-containers-systemd-"));
    try {
        return use(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

// ---------------------------------------------------------------------------------------------
// A cache of systemd's answers (mutation testing only)
//
// What `systemd --test` and `systemd-analyze verify` print depends on the unit files and stub
// executables we hand them, how we invoke them, and this machine's systemd: its binaries and
// libraries, its configuration and the unit files installed (the dump loads the default unit path
// too). The answer is kept under a SHA-256 of all of that (file names and bytes for ours and for
// systemd's binaries and libraries; name, size and mtime of every file under the machine's unit and
// configuration folders) and read back instead of running systemd again, so a cached answer is the
// answer systemd gave for exactly these inputs; an answer systemd refused (an exception) is never
// kept. The temporary folder's name is replaced by a fixed one before anything is returned or
// stored, so a cached answer and a fresh one are the same bytes. Stryker re-renders the same units
// for thousands of mutants that do not change them. Off unless COREOS_CONTAINERS_SYSTEMD_CACHE names
// a folder (stryker.config.mjs does): `npm test` always asks systemd.

/** Where a dump's temporary unit folder appears in what the helpers return. */
export const UNIT_DIR_PLACEHOLDER = "/tmp/coreos-containers-systemd-UNITS";

function cacheDir(): string | undefined {
    const configured = process.env.COREOS_CONTAINERS_SYSTEMD_CACHE;
    return configured === undefined || configured === "" || configured === "off" ? undefined : configured;
}

// The folders systemd reads configuration and units from (systemd.unit(5) "System Unit Search Path",
// systemd-system.conf(5)); missing ones are skipped.
const SYSTEMD_CONFIG_DIRS = [
    "/etc/systemd",
    "/run/systemd/system",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator",
    "/run/systemd/generator.early",
    "/run/systemd/generator.late",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/usr/lib/systemd/system.conf.d",
];

let machineIdentity: string | undefined;

/** A SHA-256 of this machine's systemd: binaries and the libraries they load, by content; config and unit folders, by listing. */
function systemdIdentity(): string {
    if (machineIdentity !== undefined) return machineIdentity;
    const hash = createHash("sha256");
    const ldd = spawnSync("ldd", [SYSTEMD], { encoding: "utf8" });
    if (ldd.status !== 0) throw new Error(`ldd ${SYSTEMD} failed: ${ldd.stderr}`);
    const libraries = [...ldd.stdout.matchAll(/=> (\/\S+)/g)].map((m) => m[1]!);
    for (const file of [SYSTEMD, SYSTEMD_ANALYZE, ...libraries]) hash.update(`file ${file}\0`).update(readFileSync(file));
    const walk = (dir: string): void => {
        let names: string[];
        try {
            names = readdirSync(dir).sort();
        } catch {
            return; // a folder this machine does not have
        }
        for (const name of names) {
            const file = path.join(dir, name);
            const st = lstatSync(file);
            const target = st.isSymbolicLink() ? readlinkSync(file) : "";
            hash.update(`entry ${file}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${target}\0`);
            if (st.isDirectory()) walk(file);
        }
    };
    for (const dir of SYSTEMD_CONFIG_DIRS) walk(dir);
    machineIdentity = hash.digest("hex");
    return machineIdentity;
}

/** Runs `compute` unless systemd's answer for exactly `inputs` on this machine's systemd is cached; stores what it returns. */
function cached<T>(kind: string, inputs: unknown, compute: () => T): T {
    const dir = cacheDir();
    if (dir === undefined) return compute();
    const key = createHash("sha256")
        .update(JSON.stringify({ kind, systemd: systemdIdentity(), inputs }))
        .digest("hex");
    const file = path.join(dir, kind, `${key}.json.gz`);
    try {
        return JSON.parse(gunzipSync(readFileSync(file)).toString("utf8")) as T;
    } catch {
        // not cached yet (or unreadable): ask systemd
    }
    const answer = compute();
    mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, gzipSync(JSON.stringify(answer), { level: 1 }));
    renameSync(temp, file); // atomic: a parallel reader sees the whole answer or none
    return answer;
}

// ---------------------------------------------------------------------------------------------
// systemd's display form of a command line

const WHITESPACE = " \t\n\r";
const SHELL_NEED_ESCAPE = '"\\`$';
const SHELL_NEED_QUOTES = SHELL_NEED_ESCAPE + "*?[" + "'()<>|&;!";
const LETTER_ESCAPES: Readonly<Record<number, string>> = { 7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r" };
const LETTER_UNESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13 };

function isControl(cp: number): boolean {
    return cp < 0x20 || cp === 0x7f;
}

/** systemd's unichar_is_valid(): what its UTF-8 checks accept. */
export function systemdAcceptsCodePoint(cp: number): boolean {
    if (cp >= 0x110000) return false;
    if ((cp & 0xfffff800) === 0xd800) return false;
    if (cp >= 0xfdd0 && cp <= 0xfdef) return false;
    if ((cp & 0xfffe) === 0xfffe) return false;
    return true;
}

function codePoints(word: string): number[] {
    const cps: number[] = [];
    for (const ch of word) {
        const cp = ch.codePointAt(0)!;
        if (cp >= 0xd800 && cp <= 0xdfff) throw new Error(`lone surrogate in ${JSON.stringify(word)}`);
        cps.push(cp);
    }
    return cps;
}

function octal(byte: number): string {
    return "\\" + byte.toString(8).padStart(3, "0");
}

/** One word as systemd 252 prints it in a `Command Line:` (shell_maybe_quote with SHELL_ESCAPE_EMPTY). */
export function displayWord(word: string): string {
    if (word === "") return '""';
    const cps = codePoints(word);
    const plain = cps.every(
        (cp) =>
            !isControl(cp) &&
            systemdAcceptsCodePoint(cp) &&
            !(cp < 0x80 && (WHITESPACE + SHELL_NEED_QUOTES).includes(String.fromCharCode(cp))),
    );
    if (plain) return word;
    let out = '"';
    for (const cp of cps) {
        const ch = String.fromCodePoint(cp);
        if (isControl(cp)) out += cp in LETTER_ESCAPES ? "\\" + LETTER_ESCAPES[cp] : octal(cp);
        else if (!systemdAcceptsCodePoint(cp)) out += Array.from(Buffer.from(ch, "utf8"), octal).join("");
        else if (SHELL_NEED_ESCAPE.includes(ch)) out += "\\" + ch;
        else out += ch;
    }
    return out + '"';
}

/** A whole argv as systemd 252 prints it. */
export function displayLine(argv: readonly string[]): string {
    return argv.map(displayWord).join(" ");
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Turns a `Command Line:` back into the words systemd holds. Throws unless the line is unambiguous. */
export function decodeCommandLine(display: string): string[] {
    let i = 0;
    const fail: (why: string) => never = (why) => {
        throw new Error(`cannot decode systemd's command line ${JSON.stringify(display)} at offset ${i}: ${why}`);
    };
    if (display === "") fail("it is empty");
    const words: string[] = [];
    for (;;) {
        if (display[i] === '"') {
            i++;
            const bytes: number[] = [];
            for (;;) {
                const ch = display[i];
                if (ch === undefined) fail("unterminated double quote");
                if (ch === '"') {
                    i++;
                    break;
                }
                if (ch === "\\") {
                    const next = display[i + 1] ?? fail("backslash at the end");
                    const oct = /^[0-3][0-7]{2}/.exec(display.slice(i + 1, i + 4));
                    if (SHELL_NEED_ESCAPE.includes(next)) {
                        bytes.push(next.charCodeAt(0));
                        i += 2;
                    } else if (next in LETTER_UNESCAPES) {
                        bytes.push(LETTER_UNESCAPES[next]!);
                        i += 2;
                    } else if (oct) {
                        bytes.push(parseInt(oct[0], 8));
                        i += 4;
                    } else {
                        fail(`unknown escape \\${next}`);
                    }
                    continue;
                }
                const cp = display.codePointAt(i)!;
                const s = String.fromCodePoint(cp);
                bytes.push(...Buffer.from(s, "utf8"));
                i += s.length;
            }
            try {
                words.push(utf8.decode(Uint8Array.from(bytes)));
            } catch {
                fail("a quoted word is not UTF-8");
            }
        } else {
            const end = display.indexOf(" ", i);
            const word = display.slice(i, end < 0 ? undefined : end);
            if (word === "") fail("empty unquoted word");
            words.push(word);
            i += word.length;
        }
        if (i === display.length) break;
        if (display[i] !== " ") fail("words must be separated by one space");
        i++;
    }
    const again = displayLine(words);
    if (again !== display) fail(`systemd would print these words as ${JSON.stringify(again)}`);
    return words;
}

/**
 * What the program receives for words systemd holds, when no variable is substituted: `$$` becomes
 * `$` (replace_env_argv() in systemd 252). Throws on what would be substituted: a word that is
 * `$NAME` as a whole (replaced by the variable's words, or dropped) and any `${…}`.
 */
export function execTimeArgv(words: readonly string[]): string[] {
    return words.map((word, index) => {
        if (word.startsWith("$") && word[1] !== "{" && word[1] !== "$") {
            throw new Error(
                `word ${index} ${JSON.stringify(word)} is a whole-word variable reference: systemd replaces it with the variable's words`,
            );
        }
        let out = "";
        for (let i = 0; i < word.length; i++) {
            const ch = word[i]!;
            if (ch !== "$") out += ch;
            else if (word[i + 1] === "$") {
                out += "$";
                i++;
            } else if (word[i + 1] === "{") {
                throw new Error(`word ${index} ${JSON.stringify(word)} has a \${…} reference that systemd substitutes`);
            } else out += "$"; // without `{` or `$` after it, systemd keeps a `$` as it is
        }
        return out;
    });
}

// ---------------------------------------------------------------------------------------------
// The dump

export interface DumpedCommand {
    /** The `Command Line:` text. */
    readonly display: string;
    /** The words systemd holds. */
    readonly words: readonly string[];
    /** What the program receives (`$$` → `$`). Throws if systemd would substitute a variable. */
    readonly argv: readonly string[];
}

export interface DumpedUnit {
    readonly name: string;
    /** Every `Key: value` line of the unit's block, raw, in order, e.g. `Restart` → [`always`]. */
    readonly properties: ReadonlyMap<string, readonly string[]>;
    /** `Environment=` assignments, `KEY=value`, in order. */
    readonly environment: readonly string[];
    /** `ExecStartPre`, `ExecStart`, `ExecStop`, … → commands in order. */
    readonly commands: ReadonlyMap<string, readonly DumpedCommand[]>;
}

/** Reads the blocks of the named units from a `systemd --test` dump. Throws on anything unexpected. */
export function parseDump(dump: string, names: readonly string[]): Map<string, DumpedUnit> {
    const lines = dump.split("\n");
    const headers = new Map<string, number[]>();
    lines.forEach((l, i) => {
        const m = /^\t-> Unit (.+):$/s.exec(l);
        if (m) headers.set(m[1]!, [...(headers.get(m[1]!) ?? []), i]);
    });
    const result = new Map<string, DumpedUnit>();
    for (const name of names) {
        const starts = headers.get(name) ?? [];
        if (starts.length !== 1) throw new Error(`the dump has ${starts.length} blocks for ${name}`);
        const properties = new Map<string, string[]>();
        const environment: string[] = [];
        const commands = new Map<string, DumpedCommand[]>();
        let section: string | undefined;
        let inEnvironment = false;
        for (let i = starts[0]! + 1; i < lines.length; i++) {
            const line = lines[i]!;
            const where = `${name}, dump line ${i + 1}: ${JSON.stringify(line)}`;
            if (!line.startsWith("\t")) {
                if (inEnvironment) {
                    const joined = environment.pop() + "\n" + line;
                    environment.push(joined);
                    const all = properties.get("Environment")!;
                    all[all.length - 1] = joined;
                    continue;
                }
                if (line.startsWith("-> ") || (line === "" && i === lines.length - 1)) break;
                throw new Error(`unexpected line in ${where}`);
            }
            if (!line.startsWith("\t\t")) break; // the next unit
            inEnvironment = false;
            if (line.startsWith("\t\t\t")) {
                if (section === undefined) throw new Error(`indented line outside a section in ${where}`);
                if (!section.startsWith("Exec")) continue; // jobs
                const prefix = "\t\t\tCommand Line: ";
                if (!line.startsWith(prefix)) throw new Error(`unexpected line under ${section} in ${where}`);
                const display = line.slice(prefix.length);
                const words = decodeCommandLine(display);
                const list = commands.get(section) ?? [];
                // argv is worked out when read, so a word systemd would substitute fails the test
                // that looks at it, not the whole dump.
                list.push({
                    display,
                    words,
                    get argv() {
                        return execTimeArgv(words);
                    },
                });
                commands.set(section, list);
                continue;
            }
            const sectionMatch = /^\t\t-> (.+):$/s.exec(line);
            if (sectionMatch) {
                section = sectionMatch[1]!;
                if (section.startsWith("Exec") && commands.has(section)) throw new Error(`${section} twice in ${where}`);
                continue;
            }
            const property = /^\t\t([^\t:][^:]*):(?: (.*))?$/s.exec(line);
            if (!property) throw new Error(`unexpected line in ${where}`);
            section = undefined;
            const key = property[1]!;
            const value = property[2] ?? "";
            if (key === "Environment") {
                environment.push(value);
                inEnvironment = true;
            }
            const values = properties.get(key) ?? [];
            values.push(value);
            properties.set(key, values);
        }
        result.set(name, { name, properties, environment, commands });
    }
    return result;
}

export interface Dump {
    readonly units: ReadonlyMap<string, DumpedUnit>;
    /** stderr lines about our unit files (systemd prefixes them with the file's path) or units. */
    readonly warnings: readonly string[];
    readonly stderr: string;
}

const ANCHOR = "coreos-containers-test-all.target";

/**
 * Loads the units with `systemd --test --system` as user nobody (unit path: a temp dir, then the
 * default path) and parses the dump. `hostUnits` are stubbed in the temp dir.
 */
export function dumpUnits(units: readonly UnitFile[], hostUnits: readonly string[] = FLATCAR_UNITS): Dump {
    const anchor: UnitFile = {
        name: ANCHOR,
        content: `[Unit]\nDescription=Pulls every unit under test into the transaction\nWants=${units.map((u) => u.name).join(" ")}\n`,
    };
    const files = [...unitSet(units, hostUnits), anchor];
    const argv = [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        SYSTEMD,
        "--test",
        "--system",
        `--unit=${ANCHOR}`,
        "--log-target=console",
        "--log-color=no",
    ];
    // The trailing colon appends systemd's default unit path. HOME=/ keeps systemd from reading
    // root's ~/.config as nobody.
    const envFor = (dir: string) => ({ PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/", LANG: "C.UTF-8", SYSTEMD_UNIT_PATH: `${dir}:` });
    const { stdout, stderr } = cached("dump", { files, argv, env: envFor(UNIT_DIR_PLACEHOLDER) }, () =>
        withTempDir((dir) => {
            chmodSync(dir, 0o755);
            writeUnits(dir, files);
            const run = spawnSync("setpriv", argv, { env: envFor(dir), maxBuffer: 512 * 1024 * 1024 });
            if (run.error) throw run.error;
            const stderr = run.stderr.toString("utf8");
            if (run.status !== 0) throw new Error(`systemd --test exited with ${run.status}:\n${stderr}`);
            const stdout = utf8.decode(run.stdout);
            if (!stdout.includes(`\t-> Unit ${ANCHOR}:\n`)) {
                throw new Error(`systemd did not load ${ANCHOR}: can user nobody read ${dir} (TMPDIR)?\n${stderr}`);
            }
            return { stdout: stdout.replaceAll(dir, UNIT_DIR_PLACEHOLDER), stderr: stderr.replaceAll(dir, UNIT_DIR_PLACEHOLDER) };
        }),
    );
    const names = units.map((u) => u.name);
    const warnings = stderr.split("\n").filter((l) => l.includes(UNIT_DIR_PLACEHOLDER) || names.some((n) => l.includes(n)));
    return { units: parseDump(stdout, names), warnings, stderr };
}

// ---------------------------------------------------------------------------------------------
// systemd-analyze verify

export interface VerifyResult {
    readonly status: number | null;
    /** stdout and stderr together. */
    readonly output: string;
}

/**
 * `systemd-analyze verify --root=ROOT` over the units placed in ROOT/etc/systemd/system, with
 * `hostUnits` stubbed there and `executables` created as stub scripts. Pass as executables only what
 * the host really has (e.g. /usr/bin/docker and the scripts cloud-config writes): verify then fails
 * when a unit runs anything else.
 *
 * Note: verify checks the first command of each Exec*= list only, and skips it when it is prefixed
 * with `-` (systemd's verify_executables()); tests check the other executables themselves.
 */
export function verifyUnits(
    units: readonly UnitFile[],
    executables: readonly string[],
    hostUnits: readonly string[] = FLATCAR_UNITS,
): VerifyResult {
    const files = unitSet(units, hostUnits);
    const argsFor = (root: string) => [
        "verify",
        `--root=${root}`,
        "--man=no",
        ...units.map((u) => path.join(root, "etc/systemd/system", u.name)),
    ];
    const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/", LANG: "C.UTF-8", SYSTEMD_LOG_COLOR: "0" };
    return cached("verify", { files, executables, args: argsFor("ROOT"), env }, () =>
        withTempDir((root) => {
            const unitDir = path.join(root, "etc/systemd/system");
            mkdirSync(unitDir, { recursive: true });
            writeUnits(unitDir, files);
            for (const exe of [...executables, STUB_EXECUTABLE]) {
                if (!path.isAbsolute(exe)) throw new Error(`executable ${exe} is not absolute`);
                const file = path.join(root, exe);
                mkdirSync(path.dirname(file), { recursive: true });
                writeFileSync(file, "#!/bin/sh\nexit 0\n");
                chmodSync(file, 0o755);
            }
            const run = spawnSync(SYSTEMD_ANALYZE, argsFor(root), { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
            if (run.error) throw run.error;
            return { status: run.status, output: (run.stdout + run.stderr).replaceAll(root, "ROOT") };
        }),
    );
}
