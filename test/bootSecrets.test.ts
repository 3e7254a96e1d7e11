// A host whose containers take secrets, booted under real systemd (systemd-nspawn; see
// test/helpers/boot.ts), with the IMDS and SSM stand-ins running inside the container.
//
// Why inside: the boot has a private network (only `lo`), so a stand-in in the test process cannot be
// reached; and pre-seeding /run is impossible (the container mounts a fresh tmpfs there), and would
// skip the very fetch this test is about. So the stand-ins (test/helpers/fake-aws.ts, the same code
// the script tests use, SigV4 checks included) are transpiled to plain JavaScript into the root and run
// as a Type=notify unit; a drop-in points the secrets unit at them and orders it after them. Everything
// else is the production path: the user-data's units and scripts, the real secrets script with bash,
// curl and jq, systemd's ordering, and the fake docker, which keeps what it read from --env-file and
// from the secret files it mounts.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { renderHost } from "../formats/cloudconfig";
import { buildHost } from "../units/host";
import { ARTIFACT_ROOT, SECRETS_UNIT, containerUnitName, secretEnvFile } from "../units/layout";
import { BOOT_STATUS_FILE, READY_UNIT, REPORT_UNIT } from "../units/report";
import { SecretParameters, secretParameterName } from "../units/secrets";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS } from "./helpers/fixtures";
import { app, db } from "./fixtures/hosts-secrets/app";
import type { FakeAwsServerConfig, FakeAwsServerRecord } from "./helpers/fake-aws-server";
import {
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_STATE,
    HostResidue,
    Machine,
    PROBE_DIR,
    ThrowAwayRoot,
    applyCloudConfig,
    assertNspawnUsable,
    formatCall,
    installStandIns,
    journal,
    parseDockerLog,
    parseShow,
    prepareBase,
    seedArtifact,
    tail,
    AWS_STAND_IN_DIR,
    AWS_STAND_IN_UNIT,
    installAwsStandIns,
} from "./helpers/boot";

const REPO = path.resolve(__dirname, "..");
const SHA = "7e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
const REGION = "eu-west-1";
const ARTIFACT = { bucket: "coreos-containers-artifacts-boottest", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: REGION };
const AWS_DIR = AWS_STAND_IN_DIR;
const AWS_UNIT = AWS_STAND_IN_UNIT;
const PORTS = { imds: 8181, ssm: 8182 };

describe("boot: a host whose containers take secrets (systemd-nspawn, SSM and IMDS stand-ins inside)", function () {
    this.timeout(150_000);
    let residue: HostResidue | undefined;
    let root: ThrowAwayRoot | undefined;
    const machines: Machine[] = [];

    after(async function () {
        this.timeout(60_000);
        const problems: string[] = [];
        for (const m of machines) await m.ensureStopped(residue!);
        if (root) problems.push(...root.dispose());
        if (residue) problems.push(...residue.cleanup());
        assert.deepEqual(problems, [], "the throw-away root and systemd-nspawn's host state were not all cleaned up");
    });

    it("fetches the pinned versions before the containers start, hands them over by env file and read-only file, and prints no value anywhere", async function () {
        const t0 = Date.now();
        assertNspawnUsable();
        const mark = crypto.randomBytes(5).toString("hex");
        const signing = Buffer.concat([Buffer.from(`PLANTED-BIN-${mark}`), Buffer.from([0, 255, 10, 13]), crypto.randomBytes(32)]);
        const values: Record<string, string> = {
            "db-password": `PLANTED-db-${mark} "quo'ted" $HOME %(x)s \\back\\slash`,
            "database-url": `postgres://app:PLANTED-url-${mark}@db:5432/app?a=1&b=2`,
            "session-key": `  PLANTED-session-${mark} = ✓ 🔑  `,
            "tls-key": `-----BEGIN PRIVATE KEY-----\nPLANTED-tls-${mark}\n-----END PRIVATE KEY-----\n`,
            "signing-key": signing.toString("base64"),
        };
        // database-url has a newer version 2; the user-data pins version 1, which the container must get.
        const newer = `PLANTED-newer-${mark}`;
        const params: SecretParameters = Object.fromEntries(
            Object.keys(values).map((s) => [s, { name: secretParameterName("coreos-containers", "boot", s), version: 1 }]),
        );
        const containers = [db, app];
        const host = buildHost({ containers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS, secrets: params });
        const rendered = renderHost(host, {
            artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
            imageFileExists: () => true,
        });
        const unitNames = rendered.units.map((u) => u.name);

        residue = await HostResidue.acquire();
        root = ThrowAwayRoot.create();
        const r = root;
        prepareBase(r, "c0de0000b0075e5700000000000005ec");
        applyCloudConfig(r, rendered.userData);
        seedArtifact(r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: SHA,
            sourceDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            images: [],
            imagesDir: "images",
        });
        installStandIns(r, { units: [...unitNames, AWS_UNIT], containers: containers.map((c) => c.name) });
        // The readiness report needs IMDS and S3 at their real addresses: masked, as in the other boots. The
        // probe reports once the ready unit has written boot.json (the boot is then decided, ready or failed).
        r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
        r.write(`${PROBE_DIR}/wait-for`, BOOT_STATUS_FILE);

        // The stand-ins, as plain JavaScript, and a drop-in that points the secrets unit at them.
        const config: FakeAwsServerConfig = {
            region: REGION,
            imdsPort: PORTS.imds,
            ssmPort: PORTS.ssm,
            parameters: Object.keys(values).map((s) => ({
                name: params[s]!.name,
                values: s === "database-url" ? [values[s]!, newer] : [values[s]!],
            })),
            record: `${AWS_DIR}/record.json`,
        };
        installAwsStandIns(r, config, "IMDS and SSM stand-ins");
        r.write(
            `/etc/systemd/system/${SECRETS_UNIT}.d/boot-test.conf`,
            `[Unit]\nWants=${AWS_UNIT}\nAfter=${AWS_UNIT}\n\n[Service]\nEnvironment=IMDS_ENDPOINT=http://127.0.0.1:${PORTS.imds} SSM_ENDPOINT=http://ssm.${REGION}.localhost:${PORTS.ssm}\n`,
        );

        const m = new Machine(r, `coreos-boot-secrets-${process.pid}`);
        machines.push(m);
        const reported = await m.waitForFile(`${PROBE_DIR}/done`, 60_000);
        const diagnostics = () =>
            [
                `\n--- journal, our units ---\n${tail(journal(r, ["-b", "0", ...[...unitNames, AWS_UNIT].flatMap((u) => ["-u", u])]), 80)}`,
                `\n--- fake docker ---\n${tail(
                    existsSync(r.at(FAKE_DOCKER_LOG))
                        ? parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)))
                              .map(formatCall)
                              .join("\n")
                        : "(none)",
                    40,
                )}`,
                `\n--- console ---\n${tail(m.console, 30)}`,
            ].join("\n");
        if (!reported) throw new Error(`the probe did not report${diagnostics()}`);
        const bootMs = Date.now() - m.startedAt;
        assert.ok(await m.waitForExit(30_000), `the machine did not power off${diagnostics()}`);

        try {
            const show = parseShow(r.read(`${PROBE_DIR}/show`));
            const prop = (u: string, k: string) => show.get(u)?.get(k) ?? `(no ${k} for ${u})`;
            assert.equal(r.read(`${PROBE_DIR}/failed`).trim(), "", "failed units");
            assert.deepEqual(
                ["ActiveState", "Result", "ExecMainStatus"].map((k) => prop(SECRETS_UNIT, k)),
                ["active", "success", "0"],
                `${SECRETS_UNIT} ran to success`,
            );
            assert.match(
                journal(r, ["-b", "0", "-u", SECRETS_UNIT, "-o", "cat"]),
                /^5 secret parameters delivered into \/run\/coreos-containers\/secrets$/m,
            );
            for (const c of containers) {
                const unit = containerUnitName(c.name);
                assert.equal(prop(unit, "SubState"), "running", `${unit} runs`);
                assert.ok(
                    Number(prop(SECRETS_UNIT, "ActiveEnterTimestampMonotonic")) <= Number(prop(unit, "InactiveExitTimestampMonotonic")),
                    `${unit} starts only once the secrets are in place`,
                );
            }

            // SSM saw one GetParameters for exactly the pinned versions, signed with the credentials IMDS gave out.
            const record = JSON.parse(r.read(`${AWS_DIR}/record.json`)) as FakeAwsServerRecord;
            assert.deepEqual(
                record.ssm.map((q) => [q.target, q.outcome, [...q.names].sort()]),
                [
                    [
                        "AmazonSSM.GetParameters",
                        "ok",
                        Object.values(params)
                            .map((p) => `${p.name}:1`)
                            .sort(),
                    ],
                ],
            );
            assert.deepEqual(
                record.ssm.map((q) => q.accessKeyId),
                record.issued,
            );

            // What docker was handed: the env files' exact bytes (version 1), the files' exact bytes, owner and mode.
            const state = (p: string) => r.at(`${FAKE_DOCKER_STATE}/${p}`);
            assert.equal(readFileSync(state("env-files/db"), "utf8"), `POSTGRES_PASSWORD=${values["db-password"]}\n`);
            assert.equal(
                readFileSync(state("env-files/app"), "utf8"),
                `DATABASE_URL=${values["database-url"]}\nSESSION_KEY=${values["session-key"]}\n`,
            );
            const tls = state("secret-files/app/0-tls-key");
            assert.equal(readFileSync(tls, "utf8"), values["tls-key"]);
            assert.deepEqual([statSync(tls).uid, statSync(tls).gid, statSync(tls).mode & 0o777], [1000, 1000, 0o400]);
            assert.ok(readFileSync(state("secret-files/app/1-signing-key")).equals(signing), "the binary secret file's bytes");

            // The container got them only through --env-file and -v …:ro: never on its command line, in a unit, or in the journal.
            const calls = parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)));
            const run = calls.find((c) => c.unit === containerUnitName("app") && c.args[0] === "run")!;
            assert.ok(run.args.join(" ").includes(`--env-file ${secretEnvFile("app")}`), formatCall(run));
            assert.ok(run.args.includes("/run/coreos-containers/secrets/app/1-signing-key:/run/secrets/signing.der:ro"), formatCall(run));
            const outputs: [string, string][] = [
                ["the docker command lines", calls.map((c) => c.args.join(" ")).join("\n")],
                ["the journal", journal(r, ["-o", "cat"])],
                ["the console", m.console],
                ["the user-data", rendered.userData],
                ...readdirSync(r.at("/etc/systemd/system"))
                    .filter((f) => f.endsWith(".service"))
                    .map((f): [string, string] => [f, r.readOrEmpty(`/etc/systemd/system/${f}`)]),
            ];
            for (const [where, text] of outputs) {
                assert.ok(!text.includes(mark), `a planted value is in ${where}`);
                assert.ok(!text.includes(values["signing-key"]!.slice(0, 24)), `the base64 secret is in ${where}`);
            }
            assert.ok(!readFileSync(state("env-files/app"), "utf8").includes(newer), "the newer version 2 was not asked for");
        } catch (e) {
            throw new Error(`${e instanceof Error ? e.message : String(e)}${diagnostics()}`, { cause: e });
        }

        // Second boot of the same root, with tls-key gone from SSM: the unit fails, naming it, and neither
        // container starts (both require the unit; db's own secret was there).
        r.write(
            `${AWS_DIR}/config.json`,
            JSON.stringify({ ...config, parameters: config.parameters.filter((p) => p.name !== params["tls-key"]!.name) }),
            0o600,
        );
        r.write(`${PROBE_DIR}/containers`, "");
        for (const f of ["done", "show", "failed", "running", "system-state"]) rmSync(r.at(`${PROBE_DIR}/${f}`), { force: true });
        rmSync(r.at(BOOT_STATUS_FILE), { force: true });
        const logBefore = statSync(r.at(FAKE_DOCKER_LOG)).size;
        const m2 = new Machine(r, `coreos-boot-secrets-${process.pid}-2`);
        machines.push(m2);
        if (!(await m2.waitForFile(`${PROBE_DIR}/done`, 60_000))) throw new Error(`second boot: the probe did not report${diagnostics()}`);
        assert.ok(await m2.waitForExit(30_000), "second boot: the machine did not power off");
        try {
            const show = parseShow(r.read(`${PROBE_DIR}/show`));
            const failedUnits = r
                .read(`${PROBE_DIR}/failed`)
                .split("\n")
                .map((l) => l.trim().split(/\s+/)[0])
                .filter((u): u is string => !!u)
                .sort();
            assert.deepEqual(failedUnits, [READY_UNIT, SECRETS_UNIT].sort(), "the secrets unit failed, and the ready unit with it");
            // The boot is decided at once (not after the ready unit's budget), naming the unit no container could start without.
            const boot = JSON.parse(r.read(BOOT_STATUS_FILE)) as { state: string; failed: { unit: string }[] };
            assert.equal(boot.state, "failed");
            assert.deepEqual(
                boot.failed.map((f) => f.unit),
                [SECRETS_UNIT],
            );
            assert.equal(show.get(SECRETS_UNIT)?.get("Result"), "exit-code");
            assert.ok(
                journal(r, ["-b", "0", "-u", SECRETS_UNIT, "-o", "cat", "-p", "err"]).includes(
                    `parameter ${params["tls-key"]!.name}:1 does not exist`,
                ),
                "the journal names the missing parameter at priority err",
            );
            for (const c of containers)
                assert.equal(show.get(containerUnitName(c.name))?.get("ActiveState"), "inactive", `${c.name} did not start`);
            const calls = parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)).subarray(logBefore));
            assert.deepEqual(calls.filter((c) => c.args[0] === "run").map(formatCall), [], "no container ran");
            assert.ok(!journal(r, ["-o", "cat"]).includes(mark), "a planted value is in the journal");
        } catch (e) {
            throw new Error(`second boot: ${e instanceof Error ? e.message : String(e)}${diagnostics()}`, { cause: e });
        }
        console.log(
            `    secrets boot test: boot until every container ran ${bootMs} ms; second boot (a parameter missing) ${Date.now() - m2.startedAt} ms; test ${Date.now() - t0} ms before cleanup`,
        );
    });
});
