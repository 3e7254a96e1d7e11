// `npm run diff`: real offline plans (child processes) → summarize(); the CLI in a throw-away git repo.
import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { PROJECT } from "../config";
import { readConfigView } from "../scripts/diff/config";
import { PlanLike, Summary, UserDataView, summarize } from "../scripts/diff/summary";
import { hashTree, runPlan, tsxNodeArgs } from "../scripts/diff/io";
import { INSTANCE_INPUTS, ruleFor } from "../scripts/diff/instance";
import { FIXTURE_ARTIFACT_DIR, FIXTURE_CONFIG, FIXTURE_HOSTS_DIR } from "./helpers/fixtures";
import { decompressIfGzip, deterministicGzip } from "../formats/gzip";
import { planUserDataBytes } from "../scripts/planUserData";
import { READY_CONTAINERS_FILE } from "../units/layout";

const ROOT = path.resolve(__dirname, "..");
const NS = PROJECT;

interface CliRun {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly summary?: Summary;
}

function git(cwd: string, ...args: string[]): string {
    return execFileSync("git", ["-c", "user.name=diff test", "-c", "user.email=diff@test.invalid", "-c", "commit.gpgsign=false", ...args], {
        cwd,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    }).trim();
}

/**
 * A repo with this project's files (tracked and not ignored) at HEAD~1, its stacks pointed at the test
 * fixtures (host and artifact), and HEAD adding one container to the fixture host.
 */
function makeRepo(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-diff-test-"));
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
        .split("\0")
        .filter((f) => f && fs.existsSync(path.join(ROOT, f)) && fs.lstatSync(path.join(ROOT, f)).isFile());
    for (const f of files) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    for (const stack of ["dev", "prod"]) {
        const file = path.join(dir, `Pulumi.${stack}.yaml`);
        const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
        Object.assign(doc.config, FIXTURE_CONFIG);
        fs.writeFileSync(file, stringify(doc));
    }
    // The seed fills cloud-config's 16 KiB user-data but for a few hundred bytes (the readiness report's
    // script and unit took most of what was left): without alertmanager, one more container fits.
    // Until the user-data is compressed (issue 11), both revisions here run one container less.
    const seedFile = path.join(dir, FIXTURE_HOSTS_DIR, "seed.ts");
    const seed = fs.readFileSync(seedFile, "utf8");
    const trimmed = seed
        .replace("dependsOn: [nodeExporter, cadvisor, alertmanager]", "dependsOn: [nodeExporter, cadvisor]")
        .replace("    alertmanager,\n    prometheus,", "    prometheus,");
    assert.ok(
        trimmed.length < seed.length - 20 && !/alertmanager[,\]]/.test(trimmed),
        `${FIXTURE_HOSTS_DIR}/seed.ts changed shape; update this test`,
    );
    fs.writeFileSync(seedFile, trimmed);
    git(dir, "init", "-q");
    fs.appendFileSync(path.join(dir, ".git", "info", "exclude"), "node_modules\n");
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "base");

    const file = path.join(dir, FIXTURE_HOSTS_DIR, "seed.ts");
    const src = fs.readFileSync(file, "utf8");
    const at = src.indexOf("export const seedContainers");
    const close = src.indexOf("];", at);
    assert.ok(
        at >= 0 && close > at,
        `${FIXTURE_HOSTS_DIR}/seed.ts no longer declares \`export const seedContainers = [...]\`; update this test`,
    );
    const whoami = `export const whoami: ContainerUnit = {\n    kind: "container",\n    name: "whoami",\n    description: "whoami, added by the diff test",\n    image: { kind: "registry", ref: "traefik/whoami:v1.10.3" },\n};\n\n`;
    fs.writeFileSync(file, src.slice(0, at) + whoami + src.slice(at, close) + "    whoami,\n" + src.slice(close));
    git(dir, "commit", "-q", "-am", "add whoami");
    return dir;
}

function runCli(repo: string, args: string[]): Promise<CliRun> {
    const jsonOut = path.join(os.tmpdir(), `coreos-containers-diff-test-${crypto.randomBytes(6).toString("hex")}.json`);
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...tsxNodeArgs(), "scripts/diff.ts", ...args, "--json-out", jsonOut], {
            cwd: repo,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
        child.on("error", reject);
        child.on("close", (code) => {
            const summary = fs.existsSync(jsonOut) ? (JSON.parse(fs.readFileSync(jsonOut, "utf8")) as Summary) : undefined;
            fs.rmSync(jsonOut, { force: true });
            resolve({ code, stdout, stderr, ...(summary ? { summary } : {}) });
        });
    });
}

/** The dev stack's `containers` value with one more env var on kibana (config replaces the whole map). */
function devContainersWithKibanaEnv(): Record<string, unknown> {
    const dev = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    const containers = structuredClone((dev.config[`${NS}:containers`] ?? {}) as Record<string, { env?: Record<string, string> }>);
    containers["kibana"] = { ...containers["kibana"], env: { ...(containers["kibana"]?.env ?? {}), FOO: "bar" } };
    return containers;
}

type Options = { ignoreChanges?: string[]; deleteBeforeReplace?: boolean };

function clonePlan(
    plan: PlanLike,
    edit: (instanceInputs: Record<string, unknown>) => void,
    editOptions?: (options: Options | undefined) => Options | undefined,
): PlanLike {
    const copy = structuredClone(plan) as { resources: { type: string; inputs: Record<string, unknown>; options?: Options }[] } & PlanLike;
    const instance = copy.resources.find((r) => r.type === "aws:ec2/instance:Instance");
    assert.ok(instance, "the plan has no instance");
    edit(instance.inputs);
    if (editOptions) {
        const options = editOptions(instance.options);
        if (options) instance.options = options;
        else delete instance.options;
    }
    // The bytes EC2 receives: `userData` as text, or `userDataBase64` for a gzip'd document (an edit that sets `userData` wins).
    const base64 = instance.inputs["userData"] === undefined && instance.inputs["userDataBase64"] !== undefined;
    return {
        ...copy,
        userData: String(instance.inputs[base64 ? "userDataBase64" : "userData"]),
        userDataEncoding: base64 ? ("base64" as const) : ("text" as const),
    };
}

/** Base worktrees of `repo` the CLI left in the temp folder (it must leave none). Other repos' runs may be under way. */
function leftoverWorktrees(repo: string): string[] {
    const mine = (d: string) => {
        const dotGit = path.join(os.tmpdir(), d, ".git");
        return (
            fs.existsSync(dotGit) &&
            fs.statSync(dotGit).isFile() &&
            fs.readFileSync(dotGit, "utf8").includes(`${fs.realpathSync(repo)}/.git/worktrees/`)
        );
    };
    return fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith("coreos-containers-diff-") && mine(d));
}

const unitsOf = (s: Summary) => ({ added: s.units.added, removed: s.units.removed, changed: s.units.changed });

describe("npm run diff (offline plans → a reviewer's summary)", function () {
    this.timeout(240_000);

    const plans = {} as Record<"base" | "kibanaEnv" | "artifact" | "retention", PlanLike>;
    let artifactCopy = "";
    let repo = "";
    let retentionDays = 0;
    /** `git worktree list` in the repo once every run ended. */
    let worktreesAfter: string[] = [];
    const cli = {} as Record<"added" | "same" | "badRef" | "badStack", CliRun>;
    const started = Date.now();

    before(async function () {
        // (d) a modified copy of the artifact folder, inside the project (config.ts requires a relative path).
        artifactCopy = path.join(".cache", `test-artifact-${crypto.randomBytes(6).toString("hex")}`);
        fs.cpSync(path.join(ROOT, FIXTURE_ARTIFACT_DIR), path.join(ROOT, artifactCopy), { recursive: true });
        fs.appendFileSync(path.join(ROOT, artifactCopy, "nginx", "nginx.conf"), "\n# changed by test/diff.test.ts\n");

        repo = makeRepo();
        // A stack whose config does not validate, only in the working tree (the base has no such stack): its plan fails.
        fs.writeFileSync(path.join(repo, "Pulumi.broken.yaml"), `config:\n  aws:region: eu-west-1\n  ${NS}:instanceType: "not a type"\n`);

        retentionDays = 1234;
        // Every plan and CLI run at once: they are separate processes, and most of the time is theirs.
        const [base, kibanaEnv, artifact, retention, added, same, badRef, badStack] = await Promise.all([
            runPlan(ROOT, "dev", FIXTURE_CONFIG),
            runPlan(ROOT, "dev", { ...FIXTURE_CONFIG, [`${NS}:containers`]: devContainersWithKibanaEnv() }),
            runPlan(ROOT, "dev", { ...FIXTURE_CONFIG, [`${NS}:artifactDir`]: artifactCopy }),
            runPlan(ROOT, "dev", { ...FIXTURE_CONFIG, [`${NS}:artifactRetentionDays`]: retentionDays }),
            runCli(repo, ["--base", "HEAD~1", "--stack", "dev"]),
            runCli(repo, ["--base", "HEAD", "--stack", "dev"]),
            runCli(repo, ["--base", "no-such-ref", "--stack", "dev"]),
            runCli(repo, ["--base", "HEAD", "--stack", "broken"]),
        ]);
        Object.assign(plans, { base, kibanaEnv, artifact, retention });
        Object.assign(cli, { added, same, badRef, badStack });
        worktreesAfter = git(repo, "worktree", "list", "--porcelain")
            .split("\n")
            .filter((l) => l.startsWith("worktree "));
    });

    after(function () {
        if (artifactCopy) fs.rmSync(path.join(ROOT, artifactCopy), { recursive: true, force: true });
        if (repo) fs.rmSync(repo, { recursive: true, force: true });
        console.log(`      (plans and CLI runs: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    });

    it("(a) says there is no change when nothing changed, and lists no units", function () {
        // Two independent renders of the same tree: the CLI's base worktree and head, against HEAD.
        const run = cli.same;
        assert.equal(run.code, 0, run.stderr);
        const s = run.summary!;
        assert.equal(s.host, "none");
        assert.equal(s.replaced, false);
        assert.equal(s.headline, "**No change to the host.** Nothing else changes either.");
        assert.ok(s.markdown.startsWith(s.headline + "\n"), "the headline comes first");
        assert.deepEqual(unitsOf(s), { added: [], removed: [], changed: [] });
        assert.deepEqual(s.files, { added: [], removed: [], changed: [] });
        assert.deepEqual(s.resources, []);
        assert.equal(s.artifact.changed, false);
        assert.doesNotMatch(s.markdown, /### Diffs/);
    });

    it("(b) one env var on one container: the host is replaced and exactly that unit changed, with the line in its diff", function () {
        const s = summarize(plans.base, plans.kibanaEnv, { stack: "dev" });
        assert.equal(s.host, "replace");
        assert.equal(s.replaced, true);
        assert.deepEqual(unitsOf(s), { added: [], removed: [], changed: ["docker-kibana.service"] });
        assert.match(s.headline, /^\*\*The host will be replaced\*\* because its user-data changed: `docker-kibana.service` changed\.$/);
        assert.match(s.markdown, /^\+.*FOO=bar/m, "a + line of the unit's diff carries FOO=bar");
        const diff = s.markdown.slice(s.markdown.indexOf("### Diffs"));
        assert.doesNotMatch(
            diff,
            /^[+-]\s*(\[Unit\]|#cloud-config|coreos:)/m,
            "the diff is the unit's text around the change, not the document",
        );
        assert.equal(s.artifact.changed, false);
        assert.deepEqual(s.resources, [], "only the instance's user-data differs");
    });

    it("says a replaced host goes live through the readiness gate, and how long it may wait (the head's readyTimeoutMinutes)", function () {
        const s = summarize(plans.base, plans.kibanaEnv, { stack: "dev" });
        assert.deepEqual(s.cutover, { gated: true, timeoutMinutes: 20 });
        assert.match(
            s.markdown,
            /^\| Cutover \| through the readiness gate: the address moves to the new host only once it reports every container healthy; waits at most 20 min \(`coreos-containers:readyTimeoutMinutes`\)/m,
        );
        // The head's timeout, not the base's.
        const head = structuredClone(plans.kibanaEnv) as PlanLike & { resources: { inputs: Record<string, unknown> }[] };
        const gate = head.resources.find((r) => r.inputs["create"] === "node --import tsx scripts/cutover.ts gate");
        assert.ok(gate, "the head plan has the gate Command");
        (gate.inputs["environment"] as Record<string, string>)["CUTOVER_TIMEOUT_SECONDS"] = "2700";
        assert.deepEqual(summarize(plans.base, head, { stack: "dev" }).cutover, { gated: true, timeoutMinutes: 45 });
        // No new host, no cutover row.
        const none = summarize(plans.base, plans.retention, { stack: "dev" });
        assert.equal(none.cutover, undefined);
        assert.doesNotMatch(none.markdown, /\| Cutover \|/);
        // A head without the gate says so.
        const ungated = { ...plans.kibanaEnv, resources: plans.kibanaEnv.resources.filter((r) => r.type !== "command:local:Command") };
        assert.match(
            summarize(plans.base, ungated, { stack: "dev" }).markdown,
            /\| Cutover \| no readiness gate: the address moves as soon as EC2 reports the new instance running \|/,
        );
    });

    it("(c) a container added in code: the CLI reports exactly that unit added, and the host replaced", function () {
        const run = cli.added;
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.summary);
        // The container's unit and its image unit; the host target wants them, and the ready unit's list has one line more.
        assert.deepEqual(unitsOf(run.summary), {
            added: ["image-whoami.service", "docker-whoami.service"],
            removed: [],
            changed: ["coreos-containers.target"],
        });
        assert.deepEqual(run.summary.files.changed, [READY_CONTAINERS_FILE]);
        assert.equal(run.summary.replaced, true);
        assert.match(run.stdout, /^\*\*The host will be replaced\*\* because its user-data changed: .*`docker-whoami.service` added/);
        assert.match(run.stdout, /^#### `docker-whoami.service` added$/m);
        assert.match(run.stdout, /^\+ExecStart=.*docker run --rm --name whoami/m);
        assert.match(run.stdout, /stack `dev`: `HEAD~1` \(`[0-9a-f]{7}`\) → /);
    });

    it("(a) the CLI against HEAD: exit 0, prints no change, removes its worktree", function () {
        const run = cli.same;
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.stdout.startsWith("**No change to the host.** Nothing else changes either.\n"), run.stdout.slice(0, 300));
        assert.deepEqual(run.summary!.config, [], "the stack files are the same");
        // And summarize() itself on one plan twice.
        const s = summarize(plans.base, structuredClone(plans.base), { stack: "dev" });
        assert.equal(s.host, "none");
        assert.equal(s.markdown.split("\n")[0], "**No change to the host.** Nothing else changes either.");
    });

    it("fails (exit 1, nothing on stdout) when a side cannot be planned or the base is unknown, and still removes the worktree", function () {
        assert.equal(cli.badRef.code, 1, cli.badRef.stderr);
        assert.match(cli.badRef.stderr, /no-such-ref.*is not a commit/);
        assert.equal(cli.badStack.code, 1, cli.badStack.stderr);
        assert.match(cli.badStack.stderr, /offline plan of stack broken .*failed/);
        assert.match(cli.badStack.stderr, /instanceType/);
        assert.equal(cli.badStack.stdout, "");
        assert.deepEqual(worktreesAfter, [`worktree ${fs.realpathSync(repo)}`], "only the repo's own checkout is left registered");
        assert.deepEqual(leftoverWorktrees(repo), [], "every run removed its temporary folder");
    });

    it("(d) an artifact file changed: key before → after, replaced because of the artifact, only provision.service changed", function () {
        const s = summarize(plans.base, plans.artifact, {
            stack: "dev",
            artifactFiles: {
                base: hashTree(path.join(ROOT, FIXTURE_ARTIFACT_DIR)),
                head: hashTree(path.join(ROOT, artifactCopy)),
                baseDir: FIXTURE_ARTIFACT_DIR,
                headDir: artifactCopy,
            },
        });
        const before = plans.base.outputs["artifactObjectKey"] as string;
        const after = plans.artifact.outputs["artifactObjectKey"] as string;
        assert.notEqual(before, after);
        assert.equal(s.artifact.changed, true);
        assert.ok(s.markdown.includes(`\`${before}\` → \`${after}\``), "the artifact section shows the whole key before → after");
        assert.deepEqual(s.artifact.files, { added: [], removed: [], changed: ["nginx/nginx.conf"] });
        assert.equal(s.replaced, true);
        assert.match(s.headline, /because its user-data changed: the artifact changed \(`provision.service` names the new key\)\.$/);
        assert.deepEqual(unitsOf(s), { added: [], removed: [], changed: ["provision.service"] });
        assert.deepEqual(s.units.onlyArtifact, ["provision.service"]);
        // The object and the instance role's grant follow the key; the grant's JSON is read, not shown as one blob.
        const paths = Object.fromEntries(s.resources.map((r) => [r.name, r.changes.map((c) => c.path)]));
        assert.deepEqual(paths["artifact-object"], ["key", "source.path"]);
        assert.ok(
            paths["host-read-artifact"]?.length && paths["host-read-artifact"].every((p) => p.startsWith("policy.")),
            JSON.stringify(paths["host-read-artifact"]),
        );
    });

    it("(e) only a non-host resource changed: no change to the host, and the resource is listed with its input", function () {
        const s = summarize(plans.base, plans.retention, { stack: "dev" });
        assert.equal(s.host, "none");
        assert.match(s.headline, /^\*\*No change to the host\.\*\* 1 other resource changes: `artifact-lifecycle`\.$/);
        assert.deepEqual(
            s.resources.map((r) => [r.type, r.name, r.kind]),
            [["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "artifact-lifecycle", "changed"]],
        );
        const [change] = s.resources[0]!.changes;
        assert.equal(change?.path, "rules[0].noncurrentVersionExpiration.noncurrentDays");
        assert.equal(change?.after, retentionDays);
        assert.ok(s.markdown.includes("`rules[0].noncurrentVersionExpiration.noncurrentDays`"));
        assert.deepEqual(unitsOf(s), { added: [], removed: [], changed: [] });
    });

    it("reports units removed when the base has a unit the head does not", function () {
        const text = decompressIfGzip(planUserDataBytes(plans.kibanaEnv)).toString("utf8");
        const doc = parse(text.replace(/^#cloud-config\n/, "")) as { coreos: { units: { name: string }[] } };
        doc.coreos.units = doc.coreos.units.filter((u) => u.name !== "docker-kibana.service");
        // Delivered as the base's is: gzip'd when it does not fit as text.
        const edited = Buffer.from("#cloud-config\n" + stringify(doc), "utf8");
        const head = clonePlan(plans.base, (i) => {
            if (i["userDataBase64"] !== undefined) i["userDataBase64"] = deterministicGzip(edited).toString("base64");
            else i["userData"] = edited.toString("utf8");
        });
        const s = summarize(plans.base, head, { stack: "dev" });
        assert.deepEqual(s.units.removed, ["docker-kibana.service"]);
        assert.equal(s.replaced, true);
        assert.match(s.markdown, /^#### `docker-kibana.service` removed$/m);
    });

    it("reads the user-data with the reader it is given (opts.readUserData), so the summary does not know the format", function () {
        const json = (units: Record<string, string>) =>
            JSON.stringify({
                format: "cloud-config",
                delivery: { kind: "inline" },
                units: Object.entries(units).map(([name, content]) => ({ name, content, settings: {} })),
                files: [],
                other: {},
            });
        const base = clonePlan(plans.base, (i) => {
            delete i["userDataBase64"];
            i["userData"] = json({ "a.service": "[Service]\nExecStart=/bin/a\n" });
        });
        const head = clonePlan(plans.base, (i) => {
            delete i["userDataBase64"];
            i["userData"] = json({ "a.service": "[Service]\nExecStart=/bin/a --flag\n", "b.service": "[Service]\n" });
        });
        const s = summarize(base, head, { stack: "dev", readUserData: (userData) => JSON.parse(userData) as UserDataView });
        assert.deepEqual(unitsOf(s), { added: ["b.service"], removed: [], changed: ["a.service"] });
        assert.match(s.headline, /because its user-data changed: `a.service` changed; `b.service` added\.$/);
        assert.match(s.markdown, /^\+ExecStart=\/bin\/a --flag$/m);
        // The default reader takes it as cloud-config, which has no `coreos.units` here.
        assert.deepEqual(unitsOf(summarize(base, head, { stack: "dev" })), { added: [], removed: [], changed: [] });
    });

    describe("the host's verdict follows the aws.ec2.Instance input table", function () {
        const verdict = (edit: (i: Record<string, unknown>) => void, editOptions?: (o: Options | undefined) => Options | undefined) =>
            summarize(plans.base, clonePlan(plans.base, edit, editOptions), { stack: "dev" });
        /** Pinning an AMI drops `ignoreChanges: ["ami"]` (components/coreosHost.ts). */
        const pinned = (o: Options | undefined): Options => ({ ...o, ignoreChanges: (o?.ignoreChanges ?? []).filter((p) => p !== "ami") });

        it("replaces for an immutable input (subnet, key pair, pinned AMI, root volume encryption)", function () {
            const subnet = verdict((i) => (i["subnetId"] = "subnet-0123456789abcdef0"));
            assert.equal(subnet.host, "replace");
            assert.match(
                subnet.headline,
                /^\*\*The host will be replaced\*\* because `subnetId` changed \(_\(none\)_ → `subnet-0123456789abcdef0`\)/,
            );
            assert.equal(verdict((i) => (i["keyName"] = "ops-2026")).host, "replace");
            assert.equal(verdict((i) => (i["ami"] = "ami-0123456789abcdef0"), pinned).host, "replace");
            assert.equal(verdict((i) => ((i["rootBlockDevice"] as Record<string, unknown>)["encrypted"] = false)).host, "replace");
        });

        it("updates in place for instance type, root volume size, tags and metadata options", function () {
            const type = verdict((i) => (i["instanceType"] = "m6i.xlarge"));
            assert.equal(type.host, "update");
            assert.match(
                type.headline,
                /^\*\*The host will be updated in place\*\* because `instanceType` changed \(`t3.large` → `m6i.xlarge`\): EC2 stops and starts/,
            );
            assert.equal(verdict((i) => ((i["rootBlockDevice"] as Record<string, unknown>)["volumeSize"] = 100)).host, "update");
            assert.equal(verdict((i) => ((i["tags"] as Record<string, string>)["team"] = "ops")).host, "update");
            assert.equal(verdict((i) => ((i["metadataOptions"] as Record<string, unknown>)["httpPutResponseHopLimit"] = 2)).host, "update");
        });

        it("replaces when any input change replaces, even with in-place updates beside it, and gives only the replacing reasons", function () {
            const subnet = verdict((i) => {
                i["instanceType"] = "m6i.xlarge";
                i["subnetId"] = "subnet-0123456789abcdef0";
            });
            assert.deepEqual(
                subnet.hostInputs.map((c) => [c.path, c.effect]),
                [
                    ["instanceType", "update"],
                    ["subnetId", "replace"],
                ],
            );
            assert.equal(subnet.host, "replace");
            assert.equal(subnet.replaced, true);
            assert.deepEqual(subnet.reasons, [
                "`subnetId` changed (_(none)_ → `subnet-0123456789abcdef0`): an instance cannot move to another subnet",
            ]);
            assert.match(subnet.headline, /^\*\*The host will be replaced\*\* because `subnetId` changed/);
            assert.doesNotMatch(subnet.headline, /instanceType/);

            // New user-data replaces (the dev stack sets userDataReplaceOnChange); the new type alone would not.
            // The seed host's document goes gzip'd, through userDataBase64.
            const userDataInput = plans.base.userDataEncoding === "base64" ? "userDataBase64" : "userData";
            const userData = summarize(
                plans.base,
                clonePlan(plans.kibanaEnv, (i) => (i["instanceType"] = "m6i.xlarge")),
                { stack: "dev" },
            );
            assert.deepEqual(
                userData.hostInputs.map((c) => [c.path, c.effect]),
                [
                    ["instanceType", "update"],
                    [userDataInput, "replace"],
                ],
            );
            assert.equal(userData.host, "replace");
            assert.deepEqual(userData.reasons, ["its user-data changed: `docker-kibana.service` changed"]);
        });

        it("updates in place for new user-data when userDataReplaceOnChange is off", function () {
            const s = summarize(
                plans.base,
                clonePlan(plans.kibanaEnv, (i) => (i["userDataReplaceOnChange"] = false)),
                { stack: "dev" },
            );
            assert.equal(s.host, "update");
            assert.match(s.headline, /updated in place\*\* because its user-data changed: `docker-kibana.service` changed/);
        });

        it("ignores a changed AMI under the head's ignoreChanges (a looked-up AMI), but warns", function () {
            // As components/coreosHost.ts sets it when no AMI is pinned.
            const s = verdict(
                (i) => (i["ami"] = "ami-0fffffffffffffff0"),
                (o) => ({ ...o, ignoreChanges: ["ami"] }),
            );
            assert.equal(s.host, "none");
            assert.equal(s.hostInputs[0]?.effect, "ignored");
            assert.equal(s.warnings.length, 1);
            assert.match(s.markdown, /> ⚠️ The looked-up AMI differs/);
        });

        it("reads ignoreChanges and deleteBeforeReplace from the head plan's recorded options", function () {
            const instance = plans.base.resources.find((r) => r.type === "aws:ec2/instance:Instance")!;
            assert.deepEqual(instance.options?.ignoreChanges, ["ami"], "the offline plan records the instance's ignoreChanges");
            const ignoredTags = verdict(
                (i) => ((i["tags"] as Record<string, string>)["team"] = "ops"),
                (o) => ({ ...o, ignoreChanges: ["tags"] }),
            );
            assert.equal(ignoredTags.host, "none");
            assert.equal(ignoredTags.hostInputs[0]?.effect, "ignored");
            const createFirst = verdict((i) => (i["subnetId"] = "subnet-0123456789abcdef0"));
            assert.match(createFirst.markdown, /The new instance is created before the old one is deleted/);
            const deleteFirst = verdict(
                (i) => (i["subnetId"] = "subnet-0123456789abcdef0"),
                (o) => ({ ...o, deleteBeforeReplace: true }),
            );
            assert.match(deleteFirst.markdown, /deleted before the new one is created \(deleteBeforeReplace\): the host is down/);
        });

        it("assumes replacement for an input the table does not know, and says so", function () {
            assert.equal(ruleFor("someNewInput").rule.effect, "replace");
            assert.equal(ruleFor("rootBlockDevice.volumeSize").rule, INSTANCE_INPUTS["rootBlockDevice.volumeSize"]);
            const s = verdict((i) => (i["someNewInput"] = true));
            assert.equal(s.host, "replace");
            assert.match(s.headline, /not in the table of known inputs/);
        });
    });

    describe("the comment budget", function () {
        it("keeps the headline and summary whole and cuts diffs with a note, never exceeding the budget", function () {
            const opts = { stack: "dev", seeAlso: "see the job summary / run `npm run diff` locally" };
            const full = summarize(plans.artifact, plans.kibanaEnv, opts);
            assert.equal(full.truncated, false);
            assert.deepEqual(full.units.changed, ["provision.service", "docker-kibana.service"]);
            const summaryEnd = full.markdown.indexOf("### Diffs");
            assert.ok(summaryEnd > 0);
            let sawCut = false;
            // From just above the summary plus the note's room, to past the whole text.
            for (let budget = summaryEnd + 400; budget < full.markdown.length + 50; budget += 37) {
                const s = summarize(plans.artifact, plans.kibanaEnv, { ...opts, budget });
                assert.ok(s.markdown.length <= budget, `${s.markdown.length} > budget ${budget}`);
                assert.ok(s.markdown.startsWith(full.markdown.slice(0, summaryEnd)), `budget ${budget}: the summary is whole`);
                assert.equal(s.truncated, budget < full.markdown.length, `budget ${budget}`);
                if (s.truncated) {
                    assert.match(s.markdown, /… \d+ more lines? not shown \(see the job summary \/ run `npm run diff` locally\)/);
                    sawCut ||= /```\n\n_… \d+ more lines? not shown/.test(s.markdown);
                } else {
                    assert.equal(s.markdown, full.markdown);
                }
            }
            assert.ok(sawCut, "some budget cut a diff part-way");
        });

        it("keeps the headline first even when the budget is smaller than the summary", function () {
            const s = summarize(plans.base, plans.kibanaEnv, { stack: "dev", budget: 400 });
            assert.ok(s.markdown.length <= 400);
            assert.ok(s.markdown.startsWith(s.headline));
            assert.match(s.markdown, /more lines not shown/);
        });
    });

    describe("stack config", function () {
        const project = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        const stack = (extra: string) => `config:\n  aws:region: eu-west-1\n${extra}`;

        it("lists keys that differ with their values, and never prints a secure: value", function () {
            const base = readConfigView(
                project,
                stack(
                    `  ${NS}:instanceType: t3.large\n  ${NS}:dbPassword:\n    secure: v1:AAAABBBBCCCCsecretONE\n  ${NS}:nested:\n    inner:\n      secure: v1:DDDDnestedSECRET\n`,
                ),
            );
            const head = readConfigView(
                project,
                stack(
                    `  ${NS}:instanceType: m6i.xlarge\n  ${NS}:dbPassword:\n    secure: v1:EEEEFFFFsecretTWO\n  ${NS}:nested:\n    inner:\n      secure: v1:GGGGnestedSECRET2\n`,
                ),
            );
            const s = summarize(plans.base, structuredClone(plans.base), { stack: "dev", config: { base, head } });
            assert.deepEqual(
                s.config.map((c) => [c.key, c.kind, c.secret]),
                [
                    [`${NS}:dbPassword`, "changed", true],
                    [`${NS}:instanceType`, "changed", false],
                    [`${NS}:nested`, "changed", true],
                ],
            );
            for (const secret of ["AAAABBBBCCCCsecretONE", "EEEEFFFFsecretTWO", "DDDDnestedSECRET", "GGGGnestedSECRET2"]) {
                assert.ok(!s.markdown.includes(secret), `the summary shows ${secret}`);
                assert.ok(!JSON.stringify(s.config).includes(secret), `the structured config changes carry ${secret}`);
            }
            assert.match(s.markdown, /\| `coreos-containers:dbPassword` \| changed \(secret; value not shown\) \|/);
            assert.match(s.markdown, /\| `coreos-containers:instanceType` \| `t3.large` → `m6i.xlarge` \|/);
        });

        it("says which secret of which container changed, that the host is replaced for it, and never shows a ciphertext", function () {
            const secrets = (entries: Record<string, string>) =>
                readConfigView(
                    project,
                    stack(
                        `  ${NS}:secrets:\n${Object.entries(entries)
                            .map(([k, v]) => `    ${k}:\n      secure: ${v}\n`)
                            .join("")}`,
                    ),
                );
            const base = secrets({ "grafana-admin": "v1:OLDgrafanaCIPHER", "db-url": "v1:SAMEdbCIPHER", "old-token": "v1:GONEcipher" });
            const head = secrets({ "grafana-admin": "v1:NEWgrafanaCIPHER", "db-url": "v1:SAMEdbCIPHER", "api-key": "v1:ADDEDcipher" });
            const withUsers = (p: PlanLike): PlanLike => ({
                ...structuredClone(p),
                outputs: {
                    ...p.outputs,
                    secrets: {
                        "grafana-admin": { parameter: "/coreos-containers/dev/grafana-admin", version: 1, usedBy: ["grafana"] },
                        "db-url": { parameter: "/coreos-containers/dev/db-url", version: 1, usedBy: ["app", "worker"] },
                        "api-key": { parameter: "/coreos-containers/dev/api-key", version: 1, usedBy: ["app"] },
                    },
                },
            });
            const s = summarize(withUsers(plans.base), withUsers(plans.base), { stack: "dev", config: { base, head } });
            assert.equal(s.host, "replace");
            assert.equal(
                s.headline,
                "**The host will be replaced** because secret `grafana-admin` of container `grafana` changed: a new value is a new version of its SSM parameter, which the user-data names.",
            );
            assert.match(
                s.markdown,
                /\| `coreos-containers:secrets` \| secret `api-key` of container `app` added<br>secret `grafana-admin` of container `grafana` changed<br>secret `old-token` removed \(secret; values not shown\) \|/,
            );
            for (const c of ["OLDgrafanaCIPHER", "NEWgrafanaCIPHER", "SAMEdbCIPHER", "GONEcipher", "ADDEDcipher"]) {
                assert.ok(!s.markdown.includes(c), `the summary shows ${c}`);
                assert.ok(!JSON.stringify(s).includes(c), `the structured summary carries ${c}`);
            }
            // Same ciphertexts: nothing about secrets, and the host stays.
            const same = summarize(withUsers(plans.base), withUsers(plans.base), { stack: "dev", config: { base, head: base } });
            assert.equal(same.host, "none");
            assert.ok(!same.markdown.includes("secret `"), same.markdown);
        });

        it("compares defaults from Pulumi.yaml too, and a key only on one side", function () {
            const base = readConfigView(project, stack(""));
            const head = readConfigView(project, stack(`  ${NS}:artifactRetentionDays: 45\n  ${NS}:keyName: ops-2026\n`));
            const s = summarize(plans.base, structuredClone(plans.base), { stack: "dev", config: { base, head } });
            assert.deepEqual(
                s.config.map((c) => [c.key, c.kind]),
                [
                    [`${NS}:artifactRetentionDays`, "changed"],
                    [`${NS}:keyName`, "added"],
                ],
            );
        });
    });
});
