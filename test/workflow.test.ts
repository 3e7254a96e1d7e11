// .github/workflows/preview.yml: the pull request preview does what the README promises.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

const FILE = path.resolve(__dirname, "..", ".github", "workflows", "preview.yml");

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, unknown>;
}

interface Job {
    readonly "runs-on"?: string;
    readonly container?: unknown;
    readonly needs?: string | string[];
    readonly permissions?: Record<string, string>;
    readonly strategy?: { matrix?: Record<string, unknown> };
    readonly env?: Record<string, unknown>;
    readonly steps: Step[];
}

interface Workflow {
    readonly on: Record<string, unknown> | string | string[];
    readonly permissions?: Record<string, string>;
    readonly jobs: Record<string, Job>;
}

const text = fs.readFileSync(FILE, "utf8");
const wf = parse(text) as Workflow;
const jobs = Object.entries(wf.jobs);
const allSteps = jobs.flatMap(([, j]) => j.steps);
const usesAction = (s: Step, action: string) => (s.uses ?? "").split("@")[0] === action;
const runs = (s: Step, command: RegExp) => command.test(s.run ?? "");

function jobWith(predicate: (s: Step) => boolean): [string, Job] {
    const found = jobs.find(([, j]) => j.steps.some(predicate));
    assert.ok(found, "no job has such a step");
    return found;
}

/** Every `${{ … }}` expression, and every scalar, anywhere in the file. */
function scalars(v: unknown, at = ""): [string, string][] {
    if (Array.isArray(v)) return v.flatMap((x, i) => scalars(x, `${at}[${i}]`));
    if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => scalars(x, at ? `${at}.${k}` : k));
    return [[at, String(v)]];
}

describe("the pull request workflow (.github/workflows/preview.yml)", function () {
    it("runs on pull requests", function () {
        const on = wf.on;
        const events = typeof on === "string" ? [on] : Array.isArray(on) ? on : Object.keys(on);
        assert.ok(events.includes("pull_request"), `on: ${JSON.stringify(on)}`);
        assert.ok(!events.includes("pull_request_target"), "pull_request_target would run fork code with secrets");
    });

    it("asks for no more than it needs: read by default, OIDC and PR comments where previews run", function () {
        assert.deepEqual(wf.permissions, { contents: "read" });
        const [, preview] = jobWith((s) => usesAction(s, "pulumi/actions"));
        assert.equal(preview.permissions?.["id-token"], "write");
        assert.equal(preview.permissions?.["pull-requests"], "write");
        assert.equal(preview.permissions?.["contents"], "read");
        for (const [name, job] of jobs) {
            for (const [k, v] of Object.entries(job.permissions ?? {})) {
                if (v === "write") assert.ok(["id-token", "pull-requests"].includes(k), `${name} writes ${k}`);
            }
        }
    });

    it("tests first: git, full-history checkout, the Debian tools from scripts/test-tools.sh, Node 20 with the npm cache, npm ci, npm test", function () {
        const [name, job] = jobWith((s) => runs(s, /^npm test\b/m));
        const i = (p: (s: Step) => boolean) => job.steps.findIndex(p);
        const checkout = i((s) => usesAction(s, "actions/checkout"));
        const node = i((s) => usesAction(s, "actions/setup-node"));
        const ci = i((s) => runs(s, /^npm ci\b/m));
        const git = i((s) => runs(s, /apt-get install[^\n]*\bgit\b/));
        const tools = i((s) => runs(s, /^bash scripts\/test-tools\.sh$/m));
        const test = i((s) => runs(s, /^npm test\b/m));
        assert.ok(
            [checkout, node, ci, git, tools, test].every((n) => n >= 0),
            `${name}: ${JSON.stringify({ checkout, node, ci, git, tools, test })}`,
        );
        assert.ok(git < checkout && checkout < tools && tools < test && checkout < node && node < ci && ci < test, "in that order");
        assert.equal(job.steps[checkout]!.with?.["fetch-depth"], 0);
        assert.equal(String(job.steps[node]!.with?.["node-version"]), "20");
        assert.equal(job.steps[node]!.with?.["cache"], "npm");
        // The tool script installs with apt-get only as root: a job-level container runs as root.
        assert.ok(job.container, "the test job runs in a container as root");
        assert.doesNotMatch(
            text,
            /apt-get install[^\n]*\bsystemd-container\b/,
            "the Debian tools come from scripts/test-tools.sh's one list, not a copy here",
        );
        // The boot test mounts an overlay and boots systemd: a job container must be privileged.
        if (job.container) assert.match(JSON.stringify(job.container), /--privileged/);
    });

    it("previews each stack in a matrix [dev, prod] after the tests, each with a full-history checkout and npm ci", function () {
        const [name, job] = jobWith((s) => usesAction(s, "pulumi/actions"));
        assert.deepEqual(job.strategy?.matrix?.["stack"], ["dev", "prod"]);
        const needs = typeof job.needs === "string" ? [job.needs] : (job.needs ?? []);
        const [testJob] = jobWith((s) => runs(s, /^npm test\b/m));
        assert.ok(needs.includes(testJob), `${name} needs ${testJob}`);
        const checkout = job.steps.find((s) => usesAction(s, "actions/checkout"));
        assert.equal(checkout?.with?.["fetch-depth"], 0, "the diff needs the base branch's history");
        assert.ok(job.steps.some((s) => runs(s, /^npm ci\b/m)));
        assert.ok(job.steps.some((s) => usesAction(s, "actions/setup-node") && s.with?.["cache"] === "npm"));
    });

    it("runs pulumi/actions v6 preview for the matrix stack, one edited comment per stack, with a diff", function () {
        const step = allSteps.find((s) => usesAction(s, "pulumi/actions"))!;
        assert.equal(step.uses, "pulumi/actions@v6");
        assert.equal(step.with?.["command"], "preview");
        assert.equal(step.with?.["stack-name"], "${{ matrix.stack }}");
        assert.equal(step.with?.["comment-on-pr"], true);
        assert.equal(step.with?.["edit-pr-comment"], true);
        assert.equal(step.with?.["diff"], true);
        assert.equal(step.env?.["PULUMI_ACCESS_TOKEN"], "${{ secrets.PULUMI_ACCESS_TOKEN }}");
    });

    it("gets AWS credentials through OIDC before the preview, from a role in repository settings", function () {
        const [, job] = jobWith((s) => usesAction(s, "pulumi/actions"));
        const aws = job.steps.findIndex((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        const pulumi = job.steps.findIndex((s) => usesAction(s, "pulumi/actions"));
        assert.ok(aws >= 0 && aws < pulumi);
        const role = String(job.steps[aws]!.with?.["role-to-assume"]);
        assert.match(role, /^\$\{\{ (vars|secrets)\.[A-Z_]+ \}\}$/);
        for (const k of ["aws-access-key-id", "aws-secret-access-key"])
            assert.equal(job.steps[aws]!.with?.[k], undefined, `${k}: OIDC, not keys`);
    });

    it("runs npm run diff against the base branch for the stack, into the job summary and one marked comment per stack", function () {
        const [, job] = jobWith((s) => usesAction(s, "pulumi/actions"));
        const env = { ...(job.env ?? {}) } as Record<string, string>;
        const diffAt = job.steps.findIndex((s) => runs(s, /npm run diff -- /));
        assert.ok(diffAt >= 0);
        const diff = job.steps[diffAt]!;
        const run = diff.run!;
        // The base and the stack, directly or through the job's environment.
        const expand = (t: string) => t.replace(/\$\{?([A-Z_]+)\}?/g, (m, k: string) => env[k] ?? m);
        assert.match(expand(run), /--base "?origin\/\$\{\{ github\.base_ref \}\}"?/);
        assert.match(expand(run), /--stack "?\$\{\{ matrix\.stack \}\}"?/);
        assert.match(run, /"?\$GITHUB_STEP_SUMMARY"?/);
        const comment = job.steps.slice(diffAt + 1).find((s) => usesAction(s, "actions/github-script"));
        assert.ok(comment, "a github-script step after the diff posts the comment");
        const script = String(comment.with?.["script"]);
        assert.match(script, /<!-- coreos-containers-diff:\$\{stack\} -->/);
        assert.match(script, /updateComment/);
        assert.match(script, /createComment/);
        assert.match(expand(`$STACK`), /matrix\.stack/, "the script's stack is the matrix stack");
    });

    it("builds the stack's image tarballs into build/images before it is planned, from the list the code prints", function () {
        const [, job] = jobWith((s) => usesAction(s, "pulumi/actions"));
        const list = job.steps.findIndex((s) => runs(s, /npm run --silent images -- --stack "\$STACK" > image-list\.txt/));
        const build = job.steps.findIndex((s) => runs(s, /docker save/));
        const diff = job.steps.findIndex((s) => runs(s, /npm run diff -- /));
        assert.ok(list >= 0 && list < build && build < diff, `list ${list}, build ${build}, diff ${diff}`);
        const run = job.steps[build]!.run!;
        assert.match(run, /done < image-list\.txt/);
        assert.match(run, /build\/images/);
        // No hand-kept list: no tarball name or image reference written in the workflow itself.
        assert.doesNotMatch(text, /\b[\w-]+\.tar [\w./-]+:[\w.-]+/);
        assert.doesNotMatch(text, /coreos-containers\/(fluentd|nginx):/);
    });

    it("the image list it reads is what `npm run images` prints for a stack that loads tarballs", async function () {
        this.timeout(60_000);
        const { imageLines } = await import("../scripts/images");
        const { seedContainers } = await import("./helpers/fixtures");
        const lines = imageLines(seedContainers);
        assert.deepEqual(lines, [
            "fluentd.tar coreos-containers/fluentd:1.17.1 images/fluentd",
            "nginx.tar coreos-containers/nginx:1.27.2 images/nginx",
        ]);
        assert.deepEqual(imageLines(seedContainers.filter((c) => c.image.kind === "registry")), []);
    });

    it("holds no secrets: every token and key comes from ${{ secrets.* }}", function () {
        for (const [at, value] of scalars(wf)) {
            if (/(^|\.)permissions\./.test(at)) continue; // `id-token: write` is a permission, not a token
            if (/(token|secret|password|access[-_]?key)/i.test(at.split(".").pop() ?? "")) {
                assert.match(value, /^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/, `${at} is ${value}`);
            }
        }
        assert.doesNotMatch(text, /AKIA[0-9A-Z]{16}/, "an AWS access key id");
        assert.doesNotMatch(text, /pul-[0-9a-f]{40}/, "a Pulumi access token");
        assert.doesNotMatch(text, /gh[pousr]_[A-Za-z0-9]{36}/, "a GitHub token");
        assert.doesNotMatch(text, /arn:aws:iam::\d{12}:role\//, "a role ARN belongs in repository settings");
    });
});
