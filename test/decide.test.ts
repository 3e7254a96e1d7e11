// The PR summary's decisions (scripts/diff/decide.ts) on hand-made plans, in-process: what the host's
// verdict is and why, what the user-data's changes are called, which resources, secrets and texts a
// reviewer is shown. test/diff.test.ts runs the same code on real plans in child processes; here each
// rule gets the smallest pair of plans that shows it, and the user-data is a view built by hand.
import { strict as assert } from "node:assert";
import { CUTOVER_ENV, cutoverCommand } from "../scripts/cutover/contract";
import { ConfigView } from "../scripts/diff/config";
import { INSTANCE_TYPE, SECRETS_KEY, artifactSha, decide } from "../scripts/diff/decide";
import { INSTANCE_INPUTS } from "../scripts/diff/instance";
import type { Decision, HostInputChange, HostReason, PlanLike, PlanOptions, SummaryOptions, UserDataView } from "../scripts/diff/summary";

type Resource = PlanLike["resources"][number];
type Unit = UserDataView["units"][number];
type File = UserDataView["files"][number];

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const KEY_A = `artifacts/${SHA_A}.tar.gz`;
const KEY_B = `artifacts/${SHA_B}.tar.gz`;
const COMMAND = "command:local:Command";
const VOLUME = "aws:ebs/volume:Volume";
const BUCKET = "aws:s3/bucketV2:BucketV2";

function instance(inputs: Record<string, unknown>, options?: PlanOptions, name = "web"): Resource {
    return { type: INSTANCE_TYPE, name, inputs, ...(options ? { options } : {}) };
}

function resource(type: string, name: string, inputs: Record<string, unknown> = {}): Resource {
    return { type, name, inputs };
}

function plan(resources: readonly Resource[], outputs: Record<string, unknown> = {}): PlanLike {
    return { resources, outputs, userData: "" };
}

function view(parts: Partial<UserDataView> = {}): UserDataView {
    return { format: "cloud-config", delivery: { kind: "inline" }, units: [], files: [], other: {}, ...parts };
}

const unit = (name: string, content: string, settings: Record<string, unknown> = {}): Unit => ({ name, content, settings });
const file = (path: string, content: string, settings: Record<string, unknown> = {}): File => ({ path, content, settings });

interface Sides {
    readonly baseView?: UserDataView;
    readonly headView?: UserDataView;
    readonly opts?: Partial<SummaryOptions>;
}

/** decide() with each plan's user-data read as the view given for it (an empty one otherwise). */
function run(base: PlanLike | null, head: PlanLike, sides: Sides = {}): Decision {
    const readUserData = (_userData: string, p: PlanLike): UserDataView => {
        if (p === head) return sides.headView ?? view();
        if (p === base) return sides.baseView ?? view();
        throw new Error("readUserData was given a plan that is neither side");
    };
    return decide(base, head, { stack: "dev", readUserData, ...sides.opts });
}

/** Two plans of one instance whose inputs go from `before` to `after`. */
function instanceChange(
    before: Record<string, unknown>,
    after: Record<string, unknown>,
    options?: PlanOptions,
    sides: Sides = {},
): Decision {
    return run(plan([instance(before)]), plan([instance(after, options)]), sides);
}

/** Plans whose instance has the same inputs on both sides: only the user-data views (and outputs) differ. */
function userDataChange(
    baseView: UserDataView,
    headView: UserDataView,
    outputs: { base?: Record<string, unknown>; head?: Record<string, unknown> } = {},
): Decision {
    const inputs = { userData: "ud", userDataReplaceOnChange: true };
    return run(plan([instance(inputs)], outputs.base), plan([instance({ ...inputs, userData: "ud2" })], outputs.head), {
        baseView,
        headView,
    });
}

function causesOf(d: Decision): unknown[] {
    const r = d.reasons.find((x): x is Extract<HostReason, { kind: "user-data" }> => x.kind === "user-data");
    assert.ok(r, `no user-data reason in ${JSON.stringify(d.reasons)}`);
    return [...r.causes];
}

const reasonKinds = (d: Decision) => d.reasons.map((r) => (r.kind === "input" ? `input:${r.change.path}` : r.kind));
const input = (d: Decision, path: string): HostInputChange => {
    const c = d.hostInputs.find((x) => x.path === path);
    assert.ok(c, `no host input ${path} in ${JSON.stringify(d.hostInputs)}`);
    return c;
};

function secretsConfig(base: unknown, head: unknown): { base: ConfigView; head: ConfigView } {
    const entry = (value: unknown) => ({ value, secret: true, source: "stack" as const });
    return { base: { [SECRETS_KEY]: entry(base) }, head: { [SECRETS_KEY]: entry(head) } };
}

describe("decide: the host's verdict", () => {
    it("is none when neither plan has an instance, and the host is then called 'host'", () => {
        const d = run(plan([resource(BUCKET, "b")]), plan([resource(BUCKET, "b")]));
        assert.equal(d.host, "none");
        assert.deepEqual(d.reasons, []);
        assert.deepEqual(d.hostInputs, []);
        assert.equal(d.hostName, "host");
        assert.equal(d.cutover, undefined);
    });

    it("is none when the instance's inputs are equal", () => {
        const d = instanceChange({ ami: "ami-1", tags: { a: "1" } }, { ami: "ami-1", tags: { a: "1" } });
        assert.equal(d.host, "none");
        assert.deepEqual(d.reasons, []);
        assert.deepEqual(d.hostInputs, []);
    });

    it("is create because there is no base stack, named after the head's instance", () => {
        const d = run(null, plan([instance({ ami: "ami-1" }, {}, "web-head")]));
        assert.equal(d.host, "create");
        assert.deepEqual(d.reasons, [{ kind: "no-base-stack" }]);
        assert.deepEqual(d.hostInputs, []);
        assert.equal(d.hostName, "web-head");
    });

    it("is create because the base stack has no instance (not because there is no stack)", () => {
        const d = run(plan([resource(BUCKET, "b")]), plan([resource(BUCKET, "b"), instance({ ami: "ami-1" })]));
        assert.equal(d.host, "create");
        assert.deepEqual(d.reasons, [{ kind: "no-base-instance" }]);
        assert.deepEqual(d.hostInputs, []);
    });

    it("is delete when the head has no instance, named after the base's", () => {
        const d = run(plan([instance({ ami: "ami-1" }, {}, "web-base")]), plan([]));
        assert.equal(d.host, "delete");
        assert.deepEqual(d.reasons, [{ kind: "no-head-instance" }]);
        assert.deepEqual(d.hostInputs, []);
        assert.equal(d.hostName, "web-base");
        assert.equal(d.cutover, undefined);
        assert.equal(d.replaceOrder, undefined);
    });

    it("is named after the head's instance when both sides have one", () => {
        const d = run(plan([instance({}, {}, "old")]), plan([instance({}, {}, "new")]));
        assert.equal(d.hostName, "new");
    });

    it("finds the instance among other resources, wherever it stands", () => {
        const base = plan([resource(BUCKET, "b", { ami: "x" }), instance({ ami: "ami-1" })]);
        const head = plan([resource(BUCKET, "b", { ami: "y" }), instance({ ami: "ami-1", tags: { a: "1" } })]);
        const d = run(base, head);
        assert.equal(d.host, "update");
        assert.deepEqual(
            d.hostInputs.map((c) => c.path),
            ["tags.a"],
        );
    });

    it("is update when the only changes are in place, and the reasons are those changes in input order", () => {
        const d = instanceChange({ instanceType: "t3.small", tags: { a: "1" } }, { instanceType: "t3.large", tags: { a: "2" } });
        assert.equal(d.host, "update");
        assert.deepEqual(reasonKinds(d), ["input:instanceType", "input:tags.a"]);
        assert.equal(input(d, "instanceType").effect, "update");
        assert.equal(input(d, "instanceType").note, INSTANCE_INPUTS["instanceType"]!.note);
        assert.equal(input(d, "tags.a").rule, "tags");
        assert.deepEqual([input(d, "tags.a").before, input(d, "tags.a").after], ["1", "2"]);
    });

    it("is replace when any change replaces, and only the replacing changes are the reasons (in input order)", () => {
        const d = instanceChange(
            { ami: "ami-1", instanceType: "t3.small", subnetId: "s-1", tags: { a: "1" } },
            { ami: "ami-2", instanceType: "t3.large", subnetId: "s-2", tags: { a: "2" } },
        );
        assert.equal(d.host, "replace");
        assert.deepEqual(reasonKinds(d), ["input:ami", "input:subnetId"]);
        assert.deepEqual(
            d.hostInputs.map((c) => [c.path, c.effect]),
            [
                ["ami", "replace"],
                ["instanceType", "update"],
                ["subnetId", "replace"],
                ["tags.a", "update"],
            ],
        );
    });

    it("takes an input the table does not know as replacing", () => {
        const d = instanceChange({ zzzUnknown: 1 }, { zzzUnknown: 2 });
        assert.equal(d.host, "replace");
        assert.equal(input(d, "zzzUnknown").rule, "zzzUnknown");
        assert.match(input(d, "zzzUnknown").note, /not in the table/);
    });

    it("folds userData and userDataBase64 into one user-data reason, where the first of them stands", () => {
        const d = instanceChange(
            { ami: "ami-1", userData: "a", userDataBase64: "YQ==", userDataReplaceOnChange: true, zzzUnknown: 1 },
            { ami: "ami-2", userData: "b", userDataBase64: "Yg==", userDataReplaceOnChange: true, zzzUnknown: 2 },
        );
        assert.equal(d.host, "replace");
        assert.deepEqual(reasonKinds(d), ["input:ami", "user-data", "input:zzzUnknown"]);
    });

    it("puts the user-data reason first when no replacing input sorts before it", () => {
        const d = instanceChange(
            { userData: "a", userDataReplaceOnChange: true, zzzUnknown: 1 },
            { userData: "b", userDataReplaceOnChange: true, zzzUnknown: 2 },
        );
        assert.deepEqual(reasonKinds(d), ["user-data", "input:zzzUnknown"]);
    });

    it("counts a move from userData to userDataBase64 as one user-data reason", () => {
        const d = instanceChange({ userData: "a" }, { userDataBase64: "Yg==" });
        assert.equal(d.host, "update");
        assert.deepEqual(reasonKinds(d), ["user-data"]);
        assert.deepEqual(
            d.hostInputs.map((c) => [c.path, c.rule]),
            [
                ["userData", "userData"],
                ["userDataBase64", "userDataBase64"],
            ],
        );
    });

    it("replaces on a user-data change when the head (not the base) sets userDataReplaceOnChange", () => {
        const replaced = instanceChange({ userData: "a", userDataReplaceOnChange: true }, { userData: "b", userDataReplaceOnChange: true });
        assert.equal(replaced.host, "replace");
        assert.equal(input(replaced, "userData").effect, "replace");
        const unset = instanceChange({ userData: "a", userDataReplaceOnChange: true }, { userData: "b" });
        assert.equal(unset.host, "update");
        assert.equal(input(unset, "userData").effect, "update");
        assert.equal(input(unset, "userDataReplaceOnChange").effect, "update");
    });
});

describe("decide: the head's resource options", () => {
    it("leaves an input under ignoreChanges as ignored, with a note that says so", () => {
        const d = instanceChange({ ami: "ami-1" }, { ami: "ami-2" }, { ignoreChanges: ["ami"] });
        assert.equal(d.host, "none");
        assert.deepEqual(d.reasons, []);
        assert.equal(input(d, "ami").effect, "ignored");
        assert.equal(input(d, "ami").rule, "ami");
        assert.match(input(d, "ami").note, /ignoreChanges/);
    });

    it("ignores paths nested under an ignored input, by `.` and by `[`", () => {
        const d = instanceChange(
            { tags: { a: "1" }, ebsBlockDevices: [{ volumeSize: 1 }] },
            { tags: { a: "2" }, ebsBlockDevices: [{ volumeSize: 2 }] },
            { ignoreChanges: ["tags", "ebsBlockDevices"] },
        );
        assert.deepEqual(
            d.hostInputs.map((c) => [c.path, c.effect]),
            [
                ["ebsBlockDevices[0].volumeSize", "ignored"],
                ["tags.a", "ignored"],
            ],
        );
        assert.equal(d.host, "none");
    });

    it("does not ignore an input whose name merely starts with an ignored one", () => {
        const d = instanceChange(
            { tagsAll: { a: "1" }, volumeTags: { a: "1" } },
            { tagsAll: { a: "2" }, volumeTags: { a: "2" } },
            { ignoreChanges: ["tags", "volume"] },
        );
        assert.deepEqual(
            d.hostInputs.map((c) => c.effect),
            ["replace", "update"],
        );
        assert.equal(d.host, "replace");
    });

    it("replaces on any input under replaceOnChanges `*`", () => {
        const d = instanceChange({ tags: { a: "1" } }, { tags: { a: "2" } }, { replaceOnChanges: ["*"] });
        assert.equal(d.host, "replace");
        assert.equal(input(d, "tags.a").effect, "replace");
        assert.match(input(d, "tags.a").note, /replaceOnChanges/);
    });

    it("replaces on an input a replaceOnChanges path covers, and not on others", () => {
        const d = instanceChange(
            { tags: { a: "1" }, metadataOptions: [{ httpTokens: "optional" }], instanceType: "t3.small" },
            { tags: { a: "2" }, metadataOptions: [{ httpTokens: "required" }], instanceType: "t3.large" },
            { replaceOnChanges: ["tags", "metadataOptions"] },
        );
        assert.deepEqual(
            d.hostInputs.map((c) => [c.path, c.effect]),
            [
                ["instanceType", "update"],
                ["metadataOptions[0].httpTokens", "replace"],
                ["tags.a", "replace"],
            ],
        );
        assert.deepEqual(reasonKinds(d), ["input:metadataOptions[0].httpTokens", "input:tags.a"]);
    });

    it("lets ignoreChanges win over replaceOnChanges for the same input", () => {
        const d = instanceChange({ tags: { a: "1" } }, { tags: { a: "2" } }, { ignoreChanges: ["tags"], replaceOnChanges: ["*"] });
        assert.equal(input(d, "tags.a").effect, "ignored");
        assert.equal(d.host, "none");
    });

    it("reads the options of the head's instance, not the base's", () => {
        const d = run(plan([instance({ ami: "ami-1" }, { ignoreChanges: ["ami"] })]), plan([instance({ ami: "ami-2" })]));
        assert.equal(input(d, "ami").effect, "replace");
    });

    it("warns about an ignored AMI change, with both AMIs", () => {
        const d = instanceChange(
            { ami: "ami-1", tags: { a: "1" } },
            { ami: "ami-2", tags: { a: "2" } },
            { ignoreChanges: ["ami", "tags"] },
        );
        assert.deepEqual(d.warnings, [{ kind: "ignored-ami", before: "ami-1", after: "ami-2" }]);
    });

    it("does not warn about an AMI change that replaces the host", () => {
        const d = instanceChange({ ami: "ami-1" }, { ami: "ami-2" });
        assert.deepEqual(d.warnings, []);
    });
});

describe("decide: replace order and cutover", () => {
    const gate = (environment?: unknown): Resource =>
        resource(COMMAND, "gate", { create: cutoverCommand("gate"), ...(environment !== undefined ? { environment } : {}) });
    const replaced = (options: PlanOptions | undefined, extra: readonly Resource[] = []) =>
        run(plan([instance({ ami: "ami-1" })]), plan([...extra, instance({ ami: "ami-2" }, options)]));

    it("creates the new instance first unless the head sets deleteBeforeReplace", () => {
        assert.equal(replaced({}).replaceOrder, "create-first");
        assert.equal(replaced({ deleteBeforeReplace: false }).replaceOrder, "create-first");
        assert.equal(replaced({ deleteBeforeReplace: true }).replaceOrder, "delete-first");
    });

    it("states no order when the head records no options for the instance", () => {
        assert.equal("replaceOrder" in replaced(undefined), false);
    });

    it("states no order and no cutover when the host is updated in place", () => {
        const d = instanceChange({ tags: { a: "1" } }, { tags: { a: "2" } }, { deleteBeforeReplace: true });
        assert.equal(d.host, "update");
        assert.equal("replaceOrder" in d, false);
        assert.equal("cutover" in d, false);
    });

    it("has an ungated cutover on replace when the head has no gate command", () => {
        assert.deepEqual(replaced({}).cutover, { gated: false });
    });

    it("has a cutover when the host is created", () => {
        const d = run(null, plan([gate({ [CUTOVER_ENV.timeoutSeconds]: "300" }), instance({})]));
        assert.deepEqual(d.cutover, { gated: true, timeoutMinutes: 5 });
        assert.equal("replaceOrder" in d, false);
    });

    it("is gated only by a command resource whose create is the gate's own command", () => {
        const retire = resource(COMMAND, "retire", { create: cutoverCommand("retire") });
        const notCommand = resource(BUCKET, "gate", { create: cutoverCommand("gate") });
        assert.deepEqual(replaced({}, [retire, notCommand]).cutover, { gated: false });
        assert.deepEqual(replaced({}, [retire, gate()]).cutover, { gated: true });
    });

    it("gives the gate's timeout in minutes (seconds / 60)", () => {
        assert.deepEqual(replaced({}, [gate({ [CUTOVER_ENV.timeoutSeconds]: "90" })]).cutover, { gated: true, timeoutMinutes: 1.5 });
        assert.deepEqual(replaced({}, [gate({ [CUTOVER_ENV.timeoutSeconds]: 1200 })]).cutover, { gated: true, timeoutMinutes: 20 });
    });

    it("gives no timeout when the gate's is missing, not a number, not finite, or not above zero", () => {
        for (const environment of [undefined, null, "CUTOVER_TIMEOUT_SECONDS=60", {}, { [CUTOVER_ENV.pollSeconds]: "60" }]) {
            assert.deepEqual(replaced({}, [gate(environment)]).cutover, { gated: true }, JSON.stringify(environment));
        }
        for (const seconds of ["soon", "Infinity", "0", "-60"]) {
            assert.deepEqual(replaced({}, [gate({ [CUTOVER_ENV.timeoutSeconds]: seconds })]).cutover, { gated: true }, seconds);
        }
    });
});

describe("decide: secrets", () => {
    const withSecrets = (
        config: { base: ConfigView; head: ConfigView },
        outputs: { base?: Record<string, unknown>; head?: Record<string, unknown> } = {},
    ) => run(plan([instance({ ami: "ami-1" })], outputs.base), plan([instance({ ami: "ami-1" }, {})], outputs.head), { opts: { config } });

    it("replaces the host when a secret's value changed, though no input did", () => {
        const d = withSecrets(secretsConfig({ db: { secure: "v1" } }, { db: { secure: "v2" } }), {
            head: { secrets: { db: { usedBy: ["api", "worker"] } } },
        });
        assert.equal(d.host, "replace");
        assert.deepEqual(d.reasons, [{ kind: "secrets", secrets: [{ name: "db", change: "changed", usedBy: ["api", "worker"] }] }]);
        assert.deepEqual(d.secrets, [{ name: "db", change: "changed", usedBy: ["api", "worker"] }]);
        assert.equal(d.replaceOrder, "create-first");
        assert.deepEqual(d.cutover, { gated: false });
    });

    it("does not replace the host for an added or removed secret, but lists it", () => {
        const d = withSecrets(secretsConfig({ old: { secure: "v" } }, { new: { secure: "v" } }));
        assert.equal(d.host, "none");
        assert.deepEqual(d.secrets, [
            { name: "new", change: "added", usedBy: [] },
            { name: "old", change: "removed", usedBy: [] },
        ]);
    });

    it("puts the changed secrets after the replacing inputs, and drops in-place reasons", () => {
        const config = secretsConfig({ db: { secure: "v1" } }, { db: { secure: "v2" } });
        const replacing = run(plan([instance({ ami: "ami-1" })]), plan([instance({ ami: "ami-2" })]), { opts: { config } });
        assert.deepEqual(reasonKinds(replacing), ["input:ami", "secrets"]);
        const updating = run(plan([instance({ tags: { a: "1" } })]), plan([instance({ tags: { a: "2" } })]), { opts: { config } });
        assert.equal(updating.host, "replace");
        assert.deepEqual(reasonKinds(updating), ["secrets"]);
    });

    it("cannot replace a host that is created or deleted", () => {
        const config = secretsConfig({ db: { secure: "v1" } }, { db: { secure: "v2" } });
        const created = run(plan([]), plan([instance({})]), { opts: { config } });
        assert.deepEqual([created.host, reasonKinds(created)], ["create", ["no-base-instance"]]);
        const deleted = run(plan([instance({})]), plan([]), { opts: { config } });
        assert.deepEqual([deleted.host, reasonKinds(deleted)], ["delete", ["no-head-instance"]]);
        assert.deepEqual(
            deleted.secrets.map((s) => s.name),
            ["db"],
        );
    });

    it("names who uses a secret from the head's secrets output, else the base's, else nobody", () => {
        const d = withSecrets(
            secretsConfig(
                { a: { secure: "1" }, b: { secure: "1" }, c: { secure: "1" } },
                { a: { secure: "2" }, b: { secure: "2" }, c: { secure: "2" } },
            ),
            {
                base: { secrets: { a: { usedBy: ["from-base"] }, b: { usedBy: ["from-base"] } } },
                head: { secrets: { a: { usedBy: ["from-head"] } } },
            },
        );
        assert.deepEqual(
            d.secrets.map((s) => [s.name, s.usedBy]),
            [
                ["a", ["from-head"]],
                ["b", ["from-base"]],
                ["c", []],
            ],
        );
    });

    it("reads only container names out of usedBy, and nothing out of an entry without one", () => {
        const d = withSecrets(
            secretsConfig(
                { a: { secure: "1" }, b: { secure: "1" }, c: { secure: "1" } },
                { a: { secure: "2" }, b: { secure: "2" }, c: { secure: "2" } },
            ),
            {
                base: { secrets: { b: { usedBy: ["from-base"] }, c: { usedBy: ["from-base"] } } },
                head: { secrets: { a: { usedBy: ["api", 7, null, "web"] }, b: null, c: { usedBy: "api" } } },
            },
        );
        assert.deepEqual(
            d.secrets.map((s) => [s.name, s.usedBy]),
            [
                ["a", ["api", "web"]],
                ["b", []],
                ["c", []],
            ],
        );
    });

    it("ignores a secrets output that is not a map", () => {
        const d = withSecrets(secretsConfig({ db: { secure: "1" } }, { db: { secure: "2" } }), {
            base: { secrets: { db: { usedBy: ["from-base"] } } },
            head: { secrets: "db" },
        });
        assert.deepEqual(d.secrets[0]!.usedBy, ["from-base"]);
    });

    it("falls back to the base's users when the head's secrets output is null", () => {
        const d = withSecrets(secretsConfig({ db: { secure: "1" } }, { db: { secure: "2" } }), {
            base: { secrets: { db: { usedBy: ["from-base"] } } },
            head: { secrets: null },
        });
        assert.deepEqual(d.secrets[0]!.usedBy, ["from-base"]);
    });

    it("reads no entries out of a secrets output that is text, not even by a character's index", () => {
        const d = withSecrets(secretsConfig({ "0": { secure: "1" } }, { "0": { secure: "2" } }), {
            base: { secrets: { "0": { usedBy: ["from-base"] } } },
            head: { secrets: "api" },
        });
        assert.deepEqual(d.secrets, [{ name: "0", change: "changed", usedBy: ["from-base"] }]);
    });

    it("treats a secrets key secret as a whole as one secret with an empty name", () => {
        const d = withSecrets(secretsConfig({ secure: "v1" }, { secure: "v2" }), { head: { secrets: { "": { usedBy: ["api"] } } } });
        assert.deepEqual(d.secrets, [{ name: "", change: "changed", usedBy: ["api"] }]);
        assert.equal(d.host, "replace");
    });

    it("treats a secrets key without secure values as one secret with an empty name", () => {
        const entry = (value: unknown) => ({ value, secret: false, source: "stack" as const });
        const d = withSecrets({ base: { [SECRETS_KEY]: entry({ db: "1" }) }, head: { [SECRETS_KEY]: entry({ db: "2" }) } });
        assert.deepEqual(d.secrets, [{ name: "", change: "changed", usedBy: [] }]);
    });

    it("has no secrets, and no config, when the caller gives no config", () => {
        const d = run(plan([instance({})]), plan([instance({})]));
        assert.deepEqual(d.secrets, []);
        assert.equal("config" in d, false);
    });

    it("lists the config's changes, and no secrets when only other keys changed", () => {
        const entry = (value: unknown) => ({ value, secret: false, source: "stack" as const });
        const config = { base: { "aws:region": entry("eu-west-1") }, head: { "aws:region": entry("eu-west-2") } };
        const d = run(plan([instance({})]), plan([instance({})]), { opts: { config } });
        assert.deepEqual(
            d.config?.map((c) => c.key),
            ["aws:region"],
        );
        assert.deepEqual(d.secrets, []);
        assert.equal(d.host, "none");
    });
});

describe("decide: why the user-data changed", () => {
    it("reads each plan's own user-data through formats/ when no reader is given", () => {
        const cloudConfig = (content: string) =>
            `#cloud-config\ncoreos:\n  units:\n    - name: a.service\n      command: start\n      content: |\n        ${content}\n`;
        const base: PlanLike = { ...plan([instance({ userData: "x" })]), userData: cloudConfig("[Unit]") };
        const head: PlanLike = { ...plan([instance({ userData: "y" })]), userData: cloudConfig("[Service]") };
        const d = decide(base, head, { stack: "dev" });
        assert.deepEqual(d.units.changed, ["a.service"]);
        assert.deepEqual(causesOf(d), [{ kind: "units", change: "changed", names: ["a.service"] }]);
    });

    it("names a format change first, then compares units and files by content only", () => {
        const d = userDataChange(
            view({
                units: [unit("a.service", "A", { command: "start" }), unit("b.service", "B")],
                files: [file("/etc/f", "F", { permissions: "0644" }), file("/etc/g", "G")],
                other: { ssh_authorized_keys: ["k1"] },
            }),
            view({
                format: "ignition",
                delivery: { kind: "gzip", document: "{}" },
                units: [unit("a.service", "A", { enabled: true }), unit("b.service", "B2")],
                files: [file("/etc/f", "F", { mode: 420 }), file("/etc/g", "G2")],
                other: { passwd: {} },
            }),
        );
        assert.deepEqual(causesOf(d), [
            { kind: "format", before: "cloud-config", after: "ignition" },
            { kind: "units", change: "changed", names: ["b.service"] },
            { kind: "files", change: "changed", paths: ["/etc/g"] },
        ]);
    });

    it("names a delivery change when the format stays", () => {
        const d = userDataChange(view(), view({ delivery: { kind: "gzip", document: "x" } }));
        assert.deepEqual(causesOf(d), [{ kind: "delivery", before: "inline", after: "gzip" }]);
    });

    it("compares settings too when the format stays", () => {
        const d = userDataChange(
            view({ units: [unit("a.service", "A", { command: "start" })], files: [file("/etc/f", "F", { permissions: "0644" })] }),
            view({ units: [unit("a.service", "A", { command: "stop" })], files: [file("/etc/f", "F", { permissions: "0600" })] }),
        );
        assert.deepEqual(causesOf(d), [
            { kind: "units", change: "changed", names: ["a.service"] },
            { kind: "files", change: "changed", paths: ["/etc/f"] },
        ]);
    });

    it("names the artifact with the units that differ only by its SHA, and the other units apart", () => {
        const d = userDataChange(
            view({ units: [unit("x.service", "X"), unit("fetch.service", `get ${SHA_A}`), unit("c.service", `${SHA_A} and C`)] }),
            view({ units: [unit("x.service", "X"), unit("fetch.service", `get ${SHA_B}`), unit("c.service", `${SHA_B} and C2`)] }),
            { base: { artifactObjectKey: KEY_A }, head: { artifactObjectKey: KEY_B } },
        );
        assert.deepEqual(causesOf(d), [
            { kind: "artifact", units: ["fetch.service"] },
            { kind: "units", change: "changed", names: ["c.service"] },
        ]);
        assert.deepEqual(d.units.onlyArtifact, ["fetch.service"]);
        assert.deepEqual(d.units.changed, ["fetch.service", "c.service"]);
        assert.deepEqual(d.artifact, { before: KEY_A, after: KEY_B, changed: true });
    });

    it("counts no unit as artifact-only unless both keys carry a SHA", () => {
        const units = (sha: string) => view({ units: [unit("fetch.service", `get ${sha}`)] });
        const noShaAfter = userDataChange(units(SHA_A), units(","), {
            base: { artifactObjectKey: KEY_A },
            head: { artifactObjectKey: "artifacts/latest.tar.gz" },
        });
        assert.deepEqual(noShaAfter.units.onlyArtifact, []);
        assert.deepEqual(causesOf(noShaAfter), [
            { kind: "artifact", units: [] },
            { kind: "units", change: "changed", names: ["fetch.service"] },
        ]);
        const noShaBefore = userDataChange(units("latest"), units(SHA_B), {
            base: { artifactObjectKey: "artifacts/latest.tar.gz" },
            head: { artifactObjectKey: KEY_B },
        });
        assert.deepEqual(noShaBefore.units.onlyArtifact, []);
    });

    it("counts a unit whose settings changed as changed, not artifact-only, in the same format", () => {
        const d = userDataChange(
            view({ units: [unit("fetch.service", `get ${SHA_A}`, { command: "start" })] }),
            view({ units: [unit("fetch.service", `get ${SHA_B}`, { command: "restart" })] }),
            { base: { artifactObjectKey: KEY_A }, head: { artifactObjectKey: KEY_B } },
        );
        assert.deepEqual(d.units.onlyArtifact, []);
        assert.deepEqual(causesOf(d), [
            { kind: "artifact", units: [] },
            { kind: "units", change: "changed", names: ["fetch.service"] },
        ]);
    });

    it("counts a unit as artifact-only across a format change, whatever its settings", () => {
        const d = userDataChange(
            view({ units: [unit("fetch.service", `get ${SHA_A}`, { command: "start" })] }),
            view({ format: "ignition", units: [unit("fetch.service", `get ${SHA_B}`, { enabled: true })] }),
            { base: { artifactObjectKey: KEY_A }, head: { artifactObjectKey: KEY_B } },
        );
        assert.deepEqual(d.units.onlyArtifact, ["fetch.service"]);
    });

    it("names units changed, added, removed in that order, then start order, then files changed, added, removed, then other keys", () => {
        const d = userDataChange(
            view({
                units: [unit("a.service", "A"), unit("b.service", "B"), unit("gone.service", "G"), unit("c.service", "C")],
                files: [file("/f/changed", "1"), file("/f/gone", "G")],
                other: { hostname: "a", ssh_authorized_keys: ["k1"] },
            }),
            view({
                units: [unit("c.service", "C"), unit("new.service", "N"), unit("a.service", "A2"), unit("b.service", "B")],
                files: [file("/f/new", "N"), file("/f/changed", "2")],
                other: { hostname: "b", ssh_authorized_keys: ["k2"] },
            }),
        );
        assert.deepEqual(causesOf(d), [
            { kind: "units", change: "changed", names: ["a.service"] },
            { kind: "units", change: "added", names: ["new.service"] },
            { kind: "units", change: "removed", names: ["gone.service"] },
            { kind: "start-order" },
            { kind: "files", change: "changed", paths: ["/f/changed"] },
            { kind: "files", change: "added", paths: ["/f/new"] },
            { kind: "files", change: "removed", paths: ["/f/gone"] },
            { kind: "key", key: "hostname" },
            { kind: "key", key: "ssh_authorized_keys" },
        ]);
        assert.equal(d.units.reordered, true);
    });

    it("lists added units in the head's order and removed ones in the base's", () => {
        const d = userDataChange(
            view({ units: [unit("z-gone.service", "1"), unit("keep.service", "k"), unit("a-gone.service", "2")] }),
            view({ units: [unit("z-new.service", "1"), unit("keep.service", "k"), unit("a-new.service", "2")] }),
        );
        assert.deepEqual(d.units.added, ["z-new.service", "a-new.service"]);
        assert.deepEqual(d.units.removed, ["z-gone.service", "a-gone.service"]);
        assert.equal(d.units.reordered, false);
    });

    it("sees no start-order change when units are only added or removed around the common ones", () => {
        const d = userDataChange(
            view({ units: [unit("a.service", "A"), unit("gone.service", "G"), unit("b.service", "B")] }),
            view({ units: [unit("new.service", "N"), unit("a.service", "A"), unit("b.service", "B")] }),
        );
        assert.equal(d.units.reordered, false);
        assert.deepEqual(
            causesOf(d).map((c) => (c as { kind: string }).kind),
            ["units", "units"],
        );
    });

    it("names each other top-level key once, however many of its leaves changed", () => {
        const d = userDataChange(
            view({ other: { ssh_authorized_keys: ["k1", "k2"], storage: { disks: [{ a: 1 }], files: 1 }, same: 1 } }),
            view({ other: { ssh_authorized_keys: ["k3", "k4"], storage: { disks: [{ a: 2 }], files: 2 }, same: 1 } }),
        );
        assert.deepEqual(causesOf(d), [
            { kind: "key", key: "ssh_authorized_keys" },
            { kind: "key", key: "storage" },
        ]);
    });

    it("says 'formatting' when no unit, file or key differs", () => {
        const d = userDataChange(view({ units: [unit("a.service", "A")] }), view({ units: [unit("a.service", "A")] }));
        assert.deepEqual(causesOf(d), [{ kind: "formatting" }]);
    });

    it("names the artifact even when no unit carries its SHA", () => {
        const d = userDataChange(view(), view(), { base: { artifactObjectKey: KEY_A }, head: { artifactObjectKey: KEY_B } });
        assert.deepEqual(causesOf(d), [{ kind: "artifact", units: [] }]);
    });

    it("reports everything as added, and no order change, when there is no base stack", () => {
        const d = run(null, plan([instance({})], { artifactObjectKey: KEY_B }), {
            headView: view({ units: [unit("b.service", `get ${SHA_B}`), unit("a.service", "A")], files: [file("/f", "F")] }),
        });
        assert.deepEqual(d.units, { added: ["b.service", "a.service"], removed: [], changed: [], reordered: false, onlyArtifact: [] });
        assert.deepEqual(d.files, { added: ["/f"], removed: [], changed: [] });
        assert.deepEqual(d.artifact, { before: undefined, after: KEY_B, changed: true });
    });
});

describe("decide: artifact", () => {
    it("finds the SHA-256 in an object key: 64 lowercase hex digits", () => {
        assert.equal(artifactSha(KEY_A), SHA_A);
        assert.equal(artifactSha(`x/${SHA_A}1.tar`), SHA_A);
        assert.equal(artifactSha(`x/${"a".repeat(63)}.tar`), undefined);
        assert.equal(artifactSha(`x/${"A".repeat(64)}.tar`), undefined);
        assert.equal(artifactSha(`x/${"g".repeat(64)}.tar`), undefined);
        assert.equal(artifactSha(undefined), undefined);
        assert.equal(artifactSha(7), undefined);
    });

    it("is unchanged when both keys are equal", () => {
        const d = run(plan([], { artifactObjectKey: KEY_A }), plan([], { artifactObjectKey: KEY_A }));
        assert.deepEqual(d.artifact, { before: KEY_A, after: KEY_A, changed: false });
    });

    it("lists the artifact's files added, removed and changed by content, sorted by path", () => {
        const d = run(plan([]), plan([]), {
            opts: {
                artifactFiles: {
                    base: { "z/gone": "1", same: "s", "m/changed": "1", "a/gone": "2" },
                    head: { "z/new": "1", "m/changed": "2", same: "s", "a/new": "2" },
                },
            },
        });
        assert.deepEqual(d.artifact.files, { added: ["a/new", "z/new"], removed: ["a/gone", "z/gone"], changed: ["m/changed"] });
    });

    it("lists no artifact files when the caller gives none", () => {
        const d = run(plan([]), plan([]));
        assert.equal("files" in d.artifact, false);
    });
});

describe("decide: other resources", () => {
    it("lists added, removed and changed resources by type then name, without the instance", () => {
        const d = run(
            plan([
                resource("b:x/y:Y", "same"),
                resource("a:x/y:Y", "gone"),
                resource("b:x/y:Y", "edit", { n: 1 }),
                instance({ ami: "ami-1" }),
            ]),
            plan([
                instance({ ami: "ami-2" }),
                resource("b:x/y:Y", "edit", { n: 2 }),
                resource("b:x/y:Y", "same"),
                resource("a:x/y:Yz", "a-new"),
            ]),
        );
        assert.deepEqual(d.resources, [
            { type: "a:x/y:Y", name: "gone", kind: "removed", changes: [] },
            { type: "a:x/y:Yz", name: "a-new", kind: "added", changes: [] },
            { type: "b:x/y:Y", name: "edit", kind: "changed", changes: [{ path: "n", before: 1, after: 2 }] },
        ]);
    });

    it("leaves out an added or removed instance", () => {
        assert.deepEqual(run(plan([]), plan([instance({})])).resources, []);
        assert.deepEqual(run(plan([instance({})]), plan([])).resources, []);
    });

    it("diffs an input that is JSON text (an IAM policy) at the paths inside it", () => {
        const policy = (resourceArn: string) =>
            JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Resource: [resourceArn] }] });
        const d = run(
            plan([resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: policy("arn:a") })]),
            plan([resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: `  ${policy("arn:b")}` })]),
        );
        assert.deepEqual(d.resources[0]!.changes, [{ path: "policy.Statement[0].Resource[0]", before: "arn:a", after: "arn:b" }]);
    });

    it("diffs JSON text whose top level is an array", () => {
        const d = run(plan([resource(BUCKET, "b", { rules: "[1, 2]" })]), plan([resource(BUCKET, "b", { rules: "[1, 3]" })]));
        assert.deepEqual(d.resources[0]!.changes, [{ path: "rules[1]", before: 2, after: 3 }]);
    });

    it("keeps a text change whole when either side is not a JSON object or array", () => {
        const cases: [unknown, unknown][] = [
            ["{not json", "{not json either"],
            ['{"a":1}', "plain"],
            ["plain", '{"a":1}'],
            ['{"a":1}', undefined],
            ['"{\\"a\\":1}"', '"{\\"a\\":2}"'],
            ["x[1]", "x[2]"],
        ];
        for (const [before, after] of cases) {
            const d = run(plan([resource(BUCKET, "b", { v: before })]), plan([resource(BUCKET, "b", { v: after })]));
            assert.deepEqual(d.resources[0]!.changes, [{ path: "v", before, after }], JSON.stringify([before, after]));
        }
    });

    it("drops a change that only puts the head's user-data SHA-256 where the base's was", () => {
        const grant = (sha: string) => ({ key: `reports/${sha}.json`, environment: { SHA: sha }, other: 1 });
        const d = run(
            plan([resource(COMMAND, "gate", grant(SHA_A))], { userDataSha256: SHA_A }),
            plan([resource(COMMAND, "gate", { ...grant(SHA_B), other: 2 })], { userDataSha256: SHA_B }),
        );
        assert.deepEqual(d.resources, [
            { type: COMMAND, name: "gate", kind: "changed", changes: [{ path: "other", before: 1, after: 2 }] },
        ]);
    });

    it("keeps a change that does more than swap the user-data SHA-256", () => {
        const d = run(
            plan([resource(COMMAND, "gate", { key: `reports/${SHA_A}.json`, n: 1 })], { userDataSha256: SHA_A }),
            plan([resource(COMMAND, "gate", { key: `reports/v2/${SHA_B}.json`, n: 2 })], { userDataSha256: SHA_B }),
        );
        assert.deepEqual(
            d.resources[0]!.changes.map((c) => c.path),
            ["key", "n"],
        );
    });

    it("swaps only SHA-256s that are strings on both sides", () => {
        const changed = (shaBefore: unknown, shaAfter: unknown, before: string, after: string) =>
            run(
                plan([resource(COMMAND, "gate", { key: before })], { userDataSha256: shaBefore }),
                plan([resource(COMMAND, "gate", { key: after })], { userDataSha256: shaAfter }),
            ).resources;
        assert.equal(changed(123, SHA_B, "k-123", `k-${SHA_B}`).length, 1);
        assert.equal(changed(SHA_A, 456, `k-${SHA_A}`, "k-456").length, 1);
        assert.equal(changed(undefined, SHA_B, "k-", `k-${SHA_B}`).length, 1);
    });

    it("does not swap SHA-256s in values that are not text", () => {
        const d = run(
            plan([resource(BUCKET, "b", { n: 1, s: "x" })], { userDataSha256: SHA_A }),
            plan([resource(BUCKET, "b", { n: 2 })], { userDataSha256: SHA_B }),
        );
        assert.deepEqual(d.resources[0]!.changes, [
            { path: "n", before: 1, after: 2 },
            { path: "s", before: "x", after: undefined },
        ]);
    });
});

describe("decide: data-volume warnings", () => {
    const volume = (inputs: Record<string, unknown>) => resource(VOLUME, "data", inputs);
    const base = {
        availabilityZone: "eu-west-1a",
        encrypted: true,
        kmsKeyId: "k1",
        snapshotId: "s1",
        type: "gp3",
        size: 10,
        iops: 3000,
        tags: { a: "1" },
    };

    it("warns when the data volume is removed", () => {
        const d = run(plan([volume(base)]), plan([]));
        assert.deepEqual(d.warnings, [{ kind: "data-volume", name: "data", change: "removed", inputs: [] }]);
    });

    it("warns when an input that replaces the volume changes, naming each such input once", () => {
        const d = run(
            plan([volume(base)]),
            plan([
                volume({
                    ...base,
                    availabilityZone: "eu-west-1b",
                    encrypted: false,
                    kmsKeyId: "k2",
                    snapshotId: "s2",
                    type: "io2",
                    size: 20,
                }),
            ]),
        );
        assert.deepEqual(d.warnings, [
            {
                kind: "data-volume",
                name: "data",
                change: "replaced",
                inputs: ["availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "type"],
            },
        ]);
    });

    it("does not warn when only size, IOPS or tags change, or when the volume is added", () => {
        assert.deepEqual(run(plan([volume(base)]), plan([volume({ ...base, size: 20, iops: 4000, tags: { a: "2" } })])).warnings, []);
        assert.deepEqual(run(plan([]), plan([volume(base)])).warnings, []);
    });

    it("does not warn about other resource types with the same inputs", () => {
        const d = run(plan([resource(BUCKET, "data", base)]), plan([]));
        assert.deepEqual(d.warnings, []);
        const changed = run(plan([resource(BUCKET, "data", base)]), plan([resource(BUCKET, "data", { ...base, type: "io2" })]));
        assert.deepEqual(changed.warnings, []);
    });

    it("names a nested replacing input by its top-level name", () => {
        const d = run(plan([volume({ ...base, kmsKeyId: { a: 1, b: 1 } })]), plan([volume({ ...base, kmsKeyId: { a: 2, b: 2 } })]));
        assert.deepEqual(d.warnings, [{ kind: "data-volume", name: "data", change: "replaced", inputs: ["kmsKeyId"] }]);
    });

    it("puts the ignored-AMI warning before the data-volume ones", () => {
        const d = run(plan([instance({ ami: "ami-1" }), volume(base)]), plan([instance({ ami: "ami-2" }, { ignoreChanges: ["ami"] })]));
        assert.deepEqual(
            d.warnings.map((w) => w.kind),
            ["ignored-ami", "data-volume"],
        );
    });
});

describe("decide: texts to diff", () => {
    it("gives units then files, each changed then added then removed, with both sides where they exist", () => {
        const d = userDataChange(
            view({ units: [unit("gone.service", "G"), unit("a.service", "A")], files: [file("/gone", "G"), file("/f", "1")] }),
            view({ units: [unit("a.service", "A2"), unit("new.service", "N")], files: [file("/new", "N"), file("/f", "2")] }),
        );
        assert.deepEqual(d.texts, [
            {
                what: "unit",
                name: "a.service",
                change: "changed",
                before: unit("a.service", "A"),
                after: unit("a.service", "A2"),
                onlyArtifact: false,
            },
            { what: "unit", name: "new.service", change: "added", after: unit("new.service", "N"), onlyArtifact: false },
            { what: "unit", name: "gone.service", change: "removed", before: unit("gone.service", "G"), onlyArtifact: false },
            { what: "file", name: "/f", change: "changed", before: file("/f", "1"), after: file("/f", "2"), onlyArtifact: false },
            { what: "file", name: "/new", change: "added", after: file("/new", "N"), onlyArtifact: false },
            { what: "file", name: "/gone", change: "removed", before: file("/gone", "G"), onlyArtifact: false },
        ]);
    });

    it("marks only the changed units that differ by the artifact's SHA alone", () => {
        const d = userDataChange(
            view({ units: [unit("other.service", "O"), unit("fetch.service", `get ${SHA_A}`)] }),
            view({ units: [unit("other.service", "O2"), unit("fetch.service", `get ${SHA_B}`), unit(`new-${SHA_B}.service`, SHA_B)] }),
            { base: { artifactObjectKey: KEY_A }, head: { artifactObjectKey: KEY_B } },
        );
        assert.deepEqual(
            d.texts.map((t) => [t.name, t.change, t.onlyArtifact]),
            [
                ["other.service", "changed", false],
                ["fetch.service", "changed", true],
                [`new-${SHA_B}.service`, "added", false],
            ],
        );
    });

    it("has no texts when nothing in the user-data differs", () => {
        const same = view({ units: [unit("a.service", "A")], files: [file("/f", "F")] });
        assert.deepEqual(userDataChange(same, same).texts, []);
    });
});
