// `npm run capacity [-- --max N] [--plans N,N,…] [--runs N]`
//
// How large a host each user-data format takes, in realistic containers (scripts/capacity/host.ts:
// like the seed's kibana, with five env vars, two volumes and one dependency). Prints numbers:
// - the largest count whose user-data fits EC2's 16,384 bytes as plain cloud-config and gzip'd;
// - for Ignition, the stub's size and the full config's size and render time up to --max;
// - render time and offline-plan time (scripts/plan.ts in a child process, as `npm start`) against
//   the container count, with the time per container, to show the growth is no worse than linear;
// - the other ceilings a host meets, and the security-group rules the host uses.
// Nothing here is a test: run it on an idle machine, the times are wall-clock.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { publishedPorts } from "../components/coreosHost";
import { USER_DATA_LIMIT, formatFor } from "../formats";
import { readHostScripts } from "../host-scripts";
import { ArtifactLocation, MAX_CONTAINERS_PER_NETWORK, buildHost, renderHostContent } from "../units";
import type { HostContent } from "../units/render";
import { realisticConfigFile, realisticContainers } from "./capacity/host";

const PROJECT_DIR = path.resolve(__dirname, "..");
const SG_INBOUND_RULES = 60;
const USAGE = "usage: npm run capacity -- [--max N] [--plans N,N,...] [--runs N]";

const { values } = parseArgs({
    options: {
        max: { type: "string", default: String(MAX_CONTAINERS_PER_NETWORK) },
        plans: { type: "string", default: "10,40,100,300,1000" },
        runs: { type: "string", default: "3" },
    },
});
const max = Number(values.max);
const runs = Number(values.runs);
const planCounts = values.plans.split(",").filter(Boolean).map(Number);
if (![max, runs, ...planCounts].every((n) => Number.isInteger(n) && n > 0)) throw new Error(USAGE);

// As index.ts checks before deploying: the longest bucket name S3 allows, so the figures hold for any bucket.
const WORST_CASE: ArtifactLocation = {
    bucket: "x".repeat(63),
    key: `artifacts/${"0".repeat(64)}.tar.gz`,
    sha256: "0".repeat(64),
    region: "eu-west-1",
};
const scripts = readHostScripts();
const files = { artifactFileExists: () => true, imageFileExists: () => true };

function content(count: number): HostContent {
    return renderHostContent(
        buildHost({ containers: realisticContainers(count), artifact: WORST_CASE, sshAuthorizedKeys: [], scripts }),
        files,
    );
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
}

/** Median wall time of `f` over `runs` runs, in ms. */
function time(f: () => void): number {
    return median(
        Array.from({ length: runs }, () => {
            const t = process.hrtime.bigint();
            f();
            return Number(process.hrtime.bigint() - t) / 1e6;
        }),
    );
}

/** The largest count in [0, hi] for which `fits` holds (0 when not even one fits; `fits` is monotonic). */
function largest(hi: number, fits: (n: number) => boolean): number {
    if (!fits(1)) return 0;
    let lo = 1;
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(mid)) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

const cloudConfig = formatFor("cloud-config");
/** The document's text, gunzipped when it was sent gzip'd. */
const decompressedText = (r: { readonly bytes: Buffer }): string => {
    const d = cloudConfig.read(r.bytes).delivery;
    return d.kind === "gzip" ? d.document : r.bytes.toString("utf8");
};
const ignition = formatFor("ignition");
const target = { bucket: WORST_CASE.bucket, region: WORST_CASE.region };
const received = (n: number) => {
    try {
        return cloudConfig.render(content(n), target);
    } catch {
        return undefined;
    }
};

const plainMax = largest(max, (n) => received(n)?.encoding === "text");
const gzipMax = largest(max, (n) => received(n) !== undefined);
const gz = received(gzipMax)!;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
console.log(`capacity in realistic containers (5 env vars, 2 volumes, 1 dependency each), bucket name of 63 characters`);
console.log(`  EC2 user-data limit ${USER_DATA_LIMIT} bytes`);
const plainAt = (n: number) => Buffer.byteLength(decompressedText(received(n)!));
console.log(
    plainMax > 0
        ? `  cloud-config, plain   up to ${plainMax} containers (${received(plainMax)!.bytes.length} bytes at ${plainMax})`
        : `  cloud-config, plain   none: the host's own units and scripts take ${plainAt(0)} bytes, one container makes ${plainAt(1)}`,
);
const gzDelivery = cloudConfig.read(gz.bytes).delivery;
const decompressed = gzDelivery.kind === "gzip" ? Buffer.byteLength(gzDelivery.document) : gz.bytes.length;
console.log(
    `  cloud-config, gzip    up to ${gzipMax} containers (${gz.bytes.length} bytes gzip'd at ${gzipMax}, ${decompressed} bytes decompressed)`,
);

const counts = [10, 20, 40, 80, 160, 320, 640, 1000].filter((n) => n <= max);
time(() => ignition.render(content(counts[0]!), target)); // warm up the JIT before the first figure
console.log(`  ignition              up to ${max} containers (the Docker network's ceiling); the stub and the full config:`);
console.log(`    containers  stub bytes  config bytes   render ms  ms/container   (cloud-config render ms)`);
for (const n of counts) {
    const c = content(n);
    const r = ignition.render(c, target);
    const tIgn = time(() => ignition.render(content(n), target));
    const tCc = n <= gzipMax ? time(() => cloudConfig.render(content(n), target)).toFixed(1) : "over the limit";
    console.log(
        `    ${String(n).padStart(10)}  ${String(r.bytes.length).padStart(10)}  ${String(r.uploads[0]!.content.length).padStart(12)}  ${tIgn.toFixed(1).padStart(10)}  ${(tIgn / n).toFixed(3).padStart(12)}   (${tCc})`,
    );
}

// Offline plans (the whole program under the mock runtime), in child processes with a generated host,
// of a stack without a stack file (the project's defaults), so no override names a missing container.
const scratch = fs.mkdtempSync(path.join(PROJECT_DIR, ".cache", "capacity-"));
try {
    const rel = path.relative(PROJECT_DIR, scratch);
    const hostsDir = path.join(scratch, "hosts");
    const artifactDir = path.join(scratch, "artifact");
    fs.mkdirSync(hostsDir, { recursive: true });
    const biggest = Math.max(...planCounts);
    for (let i = 0; i < biggest; i++) {
        fs.mkdirSync(path.dirname(path.join(artifactDir, realisticConfigFile(i))), { recursive: true });
        fs.writeFileSync(path.join(artifactDir, realisticConfigFile(i)), `# app ${i}\nlisten = 8080\n`);
    }
    const hostModule = path
        .relative(hostsDir, path.join(PROJECT_DIR, "scripts", "capacity", "host"))
        .split(path.sep)
        .join("/");
    console.log(`  offline plan (npm start's program, one child process each):`);
    console.log(`    containers  format        plan ms  added ms/container  user-data bytes   (added: over the smallest count's plan)`);
    const firstMs = new Map<string, { n: number; ms: number }>();
    for (const n of planCounts) {
        fs.writeFileSync(
            path.join(hostsDir, "large.ts"),
            `import { realisticHost } from "${hostModule}";\nexport default realisticHost(${n});\n`,
        );
        for (const fmt of ["cloud-config", "ignition"] as const) {
            if (fmt === "cloud-config" && n > gzipMax) continue;
            const config = {
                "coreos-containers:hostsDir": `${rel}/hosts`,
                "coreos-containers:artifactDir": `${rel}/artifact`,
                "coreos-containers:userDataFormat": fmt,
            };
            const t = Date.now();
            const r = spawnSync(
                process.execPath,
                ["--import", "tsx", "scripts/plan.ts", "--json", "--stack", "capacity", "--config-json", JSON.stringify(config)],
                {
                    cwd: PROJECT_DIR,
                    encoding: "utf8",
                    maxBuffer: 256 * 1024 * 1024,
                },
            );
            const ms = Date.now() - t;
            if (r.status !== 0) {
                console.log(`    ${String(n).padStart(10)}  ${fmt.padEnd(12)}  failed: ${r.stderr.split("\n").slice(0, 3).join(" ")}`);
                continue;
            }
            const plan = JSON.parse(r.stdout) as { userData: string; userDataEncoding: string };
            const bytes = Buffer.from(plan.userData, plan.userDataEncoding === "base64" ? "base64" : "utf8").length;
            const first = firstMs.get(fmt) ?? { n, ms };
            firstMs.set(fmt, first);
            const added = n === first.n ? "-" : ((ms - first.ms) / (n - first.n)).toFixed(2);
            console.log(
                `    ${String(n).padStart(10)}  ${fmt.padEnd(12)}  ${String(ms).padStart(7)}  ${added.padStart(18)}  ${String(bytes).padStart(15)}`,
            );
        }
    }
} finally {
    fs.rmSync(scratch, { recursive: true, force: true });
}

const rules = publishedPorts(realisticContainers(max)).length;
console.log(`  other ceilings, checked at plan time:`);
console.log(
    `    containers per host          ${MAX_CONTAINERS_PER_NETWORK} (HOST_TOO_MANY_CONTAINERS: one Docker bridge network, 1023 ports)`,
);
console.log(
    `    Ignition config              4 MiB (IGNITION_CONFIG_TOO_LARGE); at ${max} containers ${kb(ignition.render(content(max), target).uploads[0]!.content.length)}`,
);
console.log(`    a unit line under Ignition   2047 bytes (IGNITION_UNIT_LINE_TOO_LONG: go-systemd's SYSTEMD_LINE_MAX)`);
console.log(
    `    security group inbound rules ${SG_INBOUND_RULES} per group (issue 15 checks it); these containers publish no port: ${rules} used, +1 with sshCidrs`,
);
