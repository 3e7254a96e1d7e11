// `npm run bench:boot [-- --runs N] [--pull NAME=S]… [--healthy NAME=S]… [--pull-default S] [--healthy-default S] [--baseline REV] [--later-boot]`
//
// Boots the default host (the seed's nine containers, test/fixtures) under real systemd
// (systemd-nspawn, as test/boot.test.ts does) with the stand-in Docker, whose pulls and loads take
// set times and whose containers turn healthy a set time after `docker run`. Defaults: Elasticsearch
// pulls 6 s and is healthy 4 s after it starts, Kibana 5 s and 3 s, every other image 2 s and 1 s.
// It prints the time from Docker being up to the last container being healthy as systemd sees it
// (its unit active, i.e. through its health gate), beside the critical path: the longest chain of
// "fetch the image, then healthy" along the dependencies, each container starting once its image is
// there and what it depends on is healthy. Target: within 10% of the critical path, plus 1 s for the
// simulation (systemd, bash and the fake's own overhead).
//
// It boots a new host's first boot: coreos-cloudinit starts the units one at a time in the user-data's
// order, each start waiting for its job (test/helpers/boot.ts startAsCloudInit). --later-boot boots
// with the units already enabled instead, as every later boot of a host starts them (multi-user.target).
//
// --baseline REV also boots the layout of that revision (e.g. the one before health-gated starts) on
// the same stand-in: its containers count as started when forked, so the host never knows when they
// are healthy; the time printed for it is when they all were (each `docker run` plus its delay).
// Needs root (mount, systemd-nspawn), like the boot test; run it on an idle machine, the numbers are wall-clock.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { cloudConfigObject, serializeCloudConfig } from "../formats/cloudconfig";
import { ARTIFACT_IMAGES_DIR, ARTIFACT_ROOT, containerUnitName } from "../units/layout";
import { ContainerUnit } from "../units/model";
import { buildHost } from "../units/host";
import { renderHostContent } from "../units/render";
import { REPORT_UNIT } from "../units/report";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers } from "../test/helpers/fixtures";
import {
    FakeDockerBehaviour,
    HostResidue,
    Machine,
    PROBE_DIR,
    ThrowAwayRoot,
    applyCloudConfig,
    assertNspawnUsable,
    installStandIns,
    parseShow,
    prepareBase,
    seedArtifact,
    startAsCloudInit,
    journal,
    tail,
} from "../test/helpers/boot";

const PROJECT_DIR = path.resolve(__dirname, "..");
const SHA = "be9c000000000000000000000000000000000000000000000000000000000b07";
const ARTIFACT = { bucket: "coreos-containers-bench", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: "eu-west-1" };
const MACHINE_ID = "be9c0000b0075e5700000000000000ad";
/** The simulation's own overhead the target allows, on top of 10% of the critical path. */
const OVERHEAD_ALLOWANCE_S = 1;
const TARGET_RATIO = 1.1;

const USAGE =
    "usage: npm run bench:boot -- [--runs N] [--pull NAME=SECONDS]… [--healthy NAME=SECONDS]… [--pull-default S] [--healthy-default S] [--baseline REV] [--later-boot]";

interface Settings {
    readonly runs: number;
    /** Seconds per container: fetching its image (pull or load), and from `docker run` to healthy. */
    readonly fetch: ReadonlyMap<string, number>;
    readonly healthy: ReadonlyMap<string, number>;
    readonly baseline: string | undefined;
    /** Boot with the units enabled (a later boot) rather than started by coreos-cloudinit (a first boot). */
    readonly laterBoot: boolean;
}

function settings(argv: string[]): Settings {
    const { values } = parseArgs({
        args: argv,
        options: {
            runs: { type: "string", default: "3" },
            pull: { type: "string", multiple: true, default: [] },
            healthy: { type: "string", multiple: true, default: [] },
            "pull-default": { type: "string", default: "2" },
            "healthy-default": { type: "string", default: "1" },
            baseline: { type: "string" },
            "later-boot": { type: "boolean", default: false },
        },
        strict: true,
    });
    const seconds = (flag: string, v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} needs a number of seconds, 0 or more; ${USAGE}`);
        return n;
    };
    const names = new Set(seedContainers.map((c) => c.name));
    const table = (flag: string, given: string[], fallback: number, defaults: Record<string, number>) => {
        const m = new Map(seedContainers.map((c) => [c.name, defaults[c.name] ?? fallback]));
        for (const g of given) {
            const [name, v] = g.split("=");
            if (!name || v === undefined || !names.has(name))
                throw new Error(`--${flag} ${g}: give NAME=SECONDS, NAME one of ${[...names].join(", ")}`);
            m.set(name, seconds(flag, v));
        }
        return m;
    };
    const runs = Math.round(seconds("runs", values.runs));
    if (runs < 1) throw new Error(`--runs needs 1 or more; ${USAGE}`);
    return {
        runs,
        fetch: table("pull", values.pull, seconds("pull-default", values["pull-default"]), { elastic: 6, kibana: 5 }),
        healthy: table("healthy", values.healthy, seconds("healthy-default", values["healthy-default"]), { elastic: 4, kibana: 3 }),
        baseline: values.baseline,
        laterBoot: values["later-boot"],
    };
}

/** The longest chain of fetch-then-healthy: each container starts once its image is there and what it depends on is healthy. */
function criticalPath(s: Settings): { seconds: number; chain: string[] } {
    const byName = new Map(seedContainers.map((c) => [c.name, c]));
    const done = new Map<string, { seconds: number; chain: string[] }>();
    const healthyAt = (c: ContainerUnit): { seconds: number; chain: string[] } => {
        const known = done.get(c.name);
        if (known) return known;
        let start = { seconds: s.fetch.get(c.name)!, chain: [`image of ${c.name} ${s.fetch.get(c.name)} s`] };
        for (const d of c.dependsOn ?? []) {
            const dep = healthyAt(byName.get(d.name)!);
            if (dep.seconds > start.seconds) start = dep;
        }
        const result = {
            seconds: start.seconds + s.healthy.get(c.name)!,
            chain: [...start.chain, `${c.name} healthy ${s.healthy.get(c.name)} s`],
        };
        done.set(c.name, result);
        return result;
    };
    return seedContainers.map(healthyAt).reduce((a, b) => (b.seconds > a.seconds ? b : a));
}

/** The same chain if each container fetched its image only once it started (what a health gate does to fetches in the container unit). */
function serialPath(s: Settings): number {
    const byName = new Map(seedContainers.map((c) => [c.name, c]));
    const done = new Map<string, number>();
    const healthyAt = (c: ContainerUnit): number => {
        const known = done.get(c.name);
        if (known !== undefined) return known;
        const start = Math.max(0, ...(c.dependsOn ?? []).map((d) => healthyAt(byName.get(d.name)!)));
        const at = start + s.fetch.get(c.name)! + s.healthy.get(c.name)!;
        done.set(c.name, at);
        return at;
    };
    return Math.max(...seedContainers.map(healthyAt));
}

function behaviour(s: Settings): FakeDockerBehaviour {
    const ms = (v: number) => Math.round(v * 1000);
    return {
        pullMs: Object.fromEntries(
            seedContainers.filter((c) => c.image.kind === "registry").map((c) => [c.image.ref, ms(s.fetch.get(c.name)!)]),
        ),
        loadMs: Object.fromEntries(
            seedContainers.filter((c) => c.image.kind === "tarball").map((c) => [c.image.ref, ms(s.fetch.get(c.name)!)]),
        ),
        health: Object.fromEntries(seedContainers.map((c) => [c.name, { healthyAfterMs: ms(s.healthy.get(c.name)!) }])),
    };
}

/** This tree's user-data for the seed host (the document coreos-cloudinit reads). */
function currentUserData(): string {
    const host = buildHost({ containers: seedContainers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS });
    const content = renderHostContent(host, { artifactFileExists: () => true, imageFileExists: () => true });
    return serializeCloudConfig(cloudConfigObject(content, content.units));
}

/** REV's user-data for its seed host, rendered by REV's own code in a temporary copy of it. */
function baselineUserData(rev: string): string {
    const cache = path.join(PROJECT_DIR, ".cache");
    fs.mkdirSync(cache, { recursive: true });
    const dir = fs.mkdtempSync(path.join(cache, "bench-boot-baseline-"));
    try {
        const archive = spawnSync("git", ["archive", "--format=tar", rev], { cwd: PROJECT_DIR, maxBuffer: 1 << 30 });
        if (archive.status !== 0) throw new Error(`git archive ${rev}: ${archive.stderr.toString()}`);
        const untar = spawnSync("tar", ["-x", "-C", dir], { input: archive.stdout });
        if (untar.status !== 0) throw new Error(`tar: ${untar.stderr.toString()}`);
        fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(
            path.join(dir, "render-baseline.ts"),
            [
                'import { renderHost } from "./formats/cloudconfig";',
                'import { fixtureHost } from "./test/helpers/fixtures";',
                "const host = fixtureHost(undefined, { artifact: JSON.parse(process.argv[2]!) });",
                "process.stdout.write(renderHost(host, { artifactFileExists: () => true, imageFileExists: () => true }).userData);",
            ].join("\n"),
        );
        const r = spawnSync(path.join(dir, "node_modules", ".bin", "tsx"), ["render-baseline.ts", JSON.stringify(ARTIFACT)], {
            cwd: dir,
            encoding: "utf8",
            maxBuffer: 16 << 20,
        });
        if (r.status !== 0)
            throw new Error(
                `rendering ${rev}'s user-data (it needs formats/cloudconfig renderHost and test/helpers/fixtures fixtureHost): ${r.stderr}`,
            );
        return r.stdout;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

interface Measured {
    /** Seconds from Docker up to the last container unit active (through its health gate, when it has one). */
    readonly lastActive: number;
    /** Seconds from Docker up to the last container healthy: for a layout without gates, its `docker run` (unit active) plus its delay. */
    readonly lastHealthy: number;
}

/** One boot of this user-data in a fresh throw-away root. */
async function bootOnce(userData: string, s: Settings, gated: boolean): Promise<Measured> {
    const residue = await HostResidue.acquire();
    const r = ThrowAwayRoot.create();
    let m: Machine | undefined;
    const budget = 10 + 2 * Math.max(...[...s.fetch.values(), ...s.healthy.values()]) * seedContainers.length;
    try {
        prepareBase(r, MACHINE_ID);
        const applied = applyCloudConfig(r, userData);
        seedArtifact(r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: SHA,
            sourceDir: path.join(PROJECT_DIR, FIXTURE_ARTIFACT_DIR),
            images: seedContainers.flatMap((c) => (c.image.kind === "tarball" ? [{ file: c.image.file, ref: c.image.ref }] : [])),
            imagesDir: ARTIFACT_IMAGES_DIR,
        });
        if (!s.laterBoot) startAsCloudInit(r, applied);
        installStandIns(r, {
            units: [...applied.units.map((u) => u.name), "docker.service"],
            containers: seedContainers.map((c) => c.name),
            behaviour: behaviour(s),
        });
        // The readiness report needs IMDS and S3, which a boot here has not: masked, as the boot tests do.
        if (applied.units.some((u) => u.name === REPORT_UNIT)) r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
        r.write(`${PROBE_DIR}/timeout-seconds`, String(Math.ceil(budget)));
        m = new Machine(r, `coreos-bench-boot-${process.pid}`);
        if (!(await m.waitForFile(`${PROBE_DIR}/done`, (budget + 60) * 1000)))
            throw new Error(`the boot did not finish:\n${m.console.slice(-3000)}`);
        await m.waitForExit(30_000);
        const state = r.read(`${PROBE_DIR}/system-state`).trim();
        if (state !== "running")
            throw new Error(
                `the boot ended ${state}:\n${r.readOrEmpty(`${PROBE_DIR}/failed`)}${r.readOrEmpty(`${PROBE_DIR}/jobs`)}\n` +
                    tail(journal(r, ["-b", "0", "-o", "short-monotonic"]), 80),
            );
        const show = parseShow(r.read(`${PROBE_DIR}/show`));
        const mono = (unit: string, key: string) => {
            const v = Number(show.get(unit)?.get(key));
            if (!(v > 0)) throw new Error(`${unit} has no ${key}`);
            return v / 1e6;
        };
        const t0 = mono("docker.service", "ActiveEnterTimestampMonotonic");
        const active = seedContainers.map((c) => mono(containerUnitName(c.name), "ActiveEnterTimestampMonotonic") - t0);
        // With a gate, active is healthy. Without one, a unit is active once `docker run` is forked: healthy its delay later.
        const healthy = gated ? active : seedContainers.map((c, i) => active[i]! + s.healthy.get(c.name)!);
        return { lastActive: Math.max(...active), lastHealthy: Math.max(...healthy) };
    } finally {
        if (m) await m.ensureStopped(residue);
        const problems = [...r.dispose(), ...residue.cleanup()];
        if (problems.length) console.error(`  cleanup: ${problems.join("; ")}`);
    }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (x: number) => `${x.toFixed(2)} s`;

async function main(): Promise<void> {
    const s = settings(process.argv.slice(2));
    assertNspawnUsable();
    const cp = criticalPath(s);
    const target = TARGET_RATIO * cp.seconds + OVERHEAD_ALLOWANCE_S;
    const list = (m: ReadonlyMap<string, number>) => seedContainers.map((c) => `${c.name} ${m.get(c.name)}`).join(", ");
    console.log(
        `${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(2)}; ${s.runs} run(s) per layout; ` +
            (s.laterBoot ? "a later boot (units enabled)" : "a first boot (coreos-cloudinit starts the units one at a time)"),
    );
    console.log(`fetch (pull or load), s:   ${list(s.fetch)}`);
    console.log(`healthy after run, s:      ${list(s.healthy)}`);
    console.log(`critical path ${secs(cp.seconds)}: ${cp.chain.join(" → ")}`);
    console.log(`(health-gated with each fetch inside its container's start, it would be ${secs(serialPath(s))}: computed, not booted)`);

    const current = currentUserData();
    const ours: Measured[] = [];
    for (let i = 0; i < s.runs; i++) {
        const got = await bootOnce(current, s, true);
        ours.push(got);
        console.log(`  health-gated, run ${i + 1}: every container healthy (its unit active) after ${secs(got.lastActive)}`);
    }
    const oursMedian = median(ours.map((x) => x.lastActive));
    let baseline: { rev: string; active: number; healthy: number } | undefined;
    if (s.baseline) {
        const old = baselineUserData(s.baseline);
        const runs: Measured[] = [];
        for (let i = 0; i < s.runs; i++) {
            const got = await bootOnce(old, s, false);
            runs.push(got);
            console.log(
                `  ${s.baseline}, run ${i + 1}: every container forked after ${secs(got.lastActive)}, all healthy (the host cannot tell) after ${secs(got.lastHealthy)}`,
            );
        }
        baseline = { rev: s.baseline, active: median(runs.map((x) => x.lastActive)), healthy: median(runs.map((x) => x.lastHealthy)) };
    }
    console.log("");
    console.log(
        `health-gated layout: all healthy after ${secs(oursMedian)} (median), ${(oursMedian / cp.seconds).toFixed(2)}× the critical path of ${secs(cp.seconds)}; ` +
            `target ≤ ${secs(target)} (${TARGET_RATIO} × critical path + ${OVERHEAD_ALLOWANCE_S} s)   ${oursMedian <= target ? "PASS" : "FAIL"}`,
    );
    if (baseline)
        console.log(
            `${baseline.rev} layout: all forked after ${secs(baseline.active)}, all healthy after ${secs(baseline.healthy)} (median), ` +
                `${(baseline.healthy / cp.seconds).toFixed(2)}× the critical path; nothing on the host knew when`,
        );
    console.log(`load average at the end: ${os.loadavg()[0]!.toFixed(2)}`);
    if (oursMedian > target) process.exitCode = 1;
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
});
