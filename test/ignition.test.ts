// The Ignition user-data under the real tools: Debian's `ignition-validate` on the stub and the full
// config (every rule this project ports is checked side by side with the port in
// test/ignitionValidate.test.ts); Ignition's own binary
// following the stub's `replace` to the full config and verifying its SHA-512, then writing the
// files, units, preset and SSH key into a throw-away root; and that root booted under systemd.
//
// Ignition cannot be pointed at another S3 endpoint (no endpoint setting; /work/notes/ignition.md §3),
// so the stub's twin names the same config at http://127.0.0.1:<port>/ with the same hash, served by
// this process. The S3, IAM and IMDS path is not exercised here: the real stub names s3://, which
// only `ignition-validate` checks.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { formatFor } from "../formats";
import { IgnitionStub } from "../formats/ignition";
import type { RenderedUserData } from "../formats";
import { buildHost } from "../units/host";
import { renderHostContent, HostContent } from "../units/render";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers as fixtureContainers, withoutDataDisk } from "./helpers/fixtures";
import { HostResidue, ThrowAwayRoot, assertNspawnUsable, prepareBase } from "./helpers/boot";
import { BOOT_TIMEOUT_MS, FIRST_BOOT_IMAGE_STEP, FIRST_BOOT_NETWORK_CALLS, HostBoot, SHUTDOWN_TIMEOUT_MS } from "./helpers/hostBoot";

/** The seed's containers, their data folders as plain host folders: this boot has no stand-in for the EBS volume (test/bootData.test.ts boots that). */
const seedContainers = withoutDataDisk(fixtureContainers);
import { IgnitionStages, ignitionValidate } from "./helpers/ignition";

const REPO = path.resolve(__dirname, "..");
const SHA = "7e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e5d3b0a4f2b6f4d5c1a7e9b8c3d";
const ARTIFACT = { bucket: "coreos-containers-ignitiontest", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: "eu-west-1" };
const MACHINE_ID = "c0de0000b0075e5700000000000001d0";
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIgnitionTestKey ops@example";
/** Flatcar's core user (uid/gid 500), which the image has before Ignition runs. */
const CORE_UID = 500;
const PRESET = "/etc/systemd/system-preset/20-ignition.preset";

describe("Ignition: the stub and full config under Debian's ignition-validate and Ignition's own binary", function () {
    this.timeout(BOOT_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS + 60_000);

    let content: HostContent;
    let rendered: RenderedUserData;
    let config: Buffer;
    let server: http.Server | undefined;
    let stages: IgnitionStages | undefined;
    let residue: HostResidue | undefined;
    let root: ThrowAwayRoot | undefined;
    let host: HostBoot | undefined;
    const served: string[] = [];

    before(() => {
        content = renderHostContent(
            buildHost({ containers: seedContainers, artifact: ARTIFACT, sshAuthorizedKeys: [SSH_KEY], scripts: HOST_SCRIPTS }),
            {
                artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
                imageFileExists: () => true,
            },
        );
        rendered = formatFor("ignition").render(content, { bucket: ARTIFACT.bucket, region: ARTIFACT.region });
        config = Buffer.from(rendered.uploads[0]!.content, "utf8");
    });

    after(async function () {
        this.timeout(60_000);
        const problems: string[] = [];
        const did = host ? await host.stopAll() : [];
        if (did.length) console.log(`    ignition boot cleanup: ${did.join("; ")}`);
        if (root) problems.push(...root.dispose());
        if (residue) problems.push(...residue.cleanup());
        stages?.dispose();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        assert.deepEqual(problems, [], "the throw-away root and systemd-nspawn's host state were not all cleaned up");
    });

    it("ignition-validate finds nothing to say about the stub or the full config", () => {
        assert.deepEqual(ignitionValidate(rendered.bytes), { output: "", status: 0 }, "the stub");
        assert.deepEqual(ignitionValidate(config), { output: "", status: 0 }, "the full config");
    });

    it("Ignition's fetch follows the stub's replace to the full config and checks its SHA-512; a wrong hash stops it", async () => {
        server = http.createServer((req, res) => {
            served.push(req.url ?? "");
            if (req.url === "/full.json") res.end(config);
            else res.writeHead(404).end();
        });
        await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        const twin = (hash: string) => {
            const stub = JSON.parse(rendered.bytes.toString("utf8")) as IgnitionStub;
            assert.match(stub.ignition.config.replace.source, /^s3:\/\/coreos-containers-ignitiontest\/ignition\/[0-9a-f]{64}\.json$/);
            return Buffer.from(
                JSON.stringify({
                    ignition: {
                        ...stub.ignition,
                        config: { replace: { source: `http://127.0.0.1:${port}/full.json`, verification: { hash } } },
                    },
                }),
            );
        };
        const realHash = (JSON.parse(rendered.bytes.toString("utf8")) as IgnitionStub).ignition.config.replace.verification.hash;
        assert.equal(realHash, `sha512-${crypto.createHash("sha512").update(config).digest("hex")}`);

        stages = new IgnitionStages();
        const wrong = await stages.fetch(twin(`sha512-${crypto.createHash("sha512").update("x").digest("hex")}`), "wrong");
        assert.equal(wrong.status, 1, wrong.log);
        assert.match(wrong.log, /hash verification failed \(calculated [0-9a-f]+ but expected [0-9a-f]+\)/);
        assert.equal(existsSync(wrong.cache), false, "no config is cached after a failed verification");

        const good = await stages.fetch(twin(realHash), "good");
        assert.equal(good.status, 0, good.log);
        assert.match(good.log, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/full\\.json: attempt #1`));
        assert.match(good.log, /fetched referenced config at http:\/\/127\.0\.0\.1:\d+\/full\.json with SHA512: [0-9a-f]{128}/);
        assert.deepEqual(served, ["/full.json", "/full.json"]);
        // The cache is the rendered replacement: the full config's units, not the stub.
        const cached = JSON.parse(readFileSync(good.cache, "utf8")) as { systemd?: { units?: { name: string }[] } };
        assert.deepEqual(
            (cached.systemd?.units ?? []).map((u) => u.name),
            content.units.map((u) => u.name),
        );
    });

    it("Ignition's files stage writes every file with its mode and owner, every unit byte for byte, a preset per unit and core's SSH key", async () => {
        assert.ok(stages && existsSync(path.join(stages.dir, "good.json")), "the fetch test ran first and cached the config");
        assertNspawnUsable();
        residue = await HostResidue.acquire();
        root = ThrowAwayRoot.create();
        const r = root;
        prepareBase(r, MACHINE_ID);
        // What Flatcar's image has before Ignition runs: the core user and its home; no SELinux policy.
        for (const [file, line] of [
            ["/etc/passwd", `core:x:${CORE_UID}:${CORE_UID}:CoreOS Admin:/home/core:/bin/bash\n`],
            ["/etc/group", `core:x:${CORE_UID}:core\n`],
            ["/etc/shadow", "core:*:19000:0:99999:7:::\n"],
            ["/etc/gshadow", "core:!::core\n"],
        ] as const)
            r.write(file, readFileSync(r.at(file), "utf8") + line, statSync(r.at(file)).mode & 0o7777);
        r.write("/etc/selinux/config", "SELINUXTYPE=none\n");
        // Ignition writes the SSH keys as core itself (internal/as_user), through the root's path on this machine.
        chmodSync(r.base, 0o711);
        mkdirSync(r.at("/home/core"), { recursive: true });
        chownSync(r.at("/home/core"), CORE_UID, CORE_UID);

        const files = await stages.files(path.join(stages.dir, "good.json"), r.root);
        assert.equal(files.status, 0, files.log);
        assert.match(files.log, /files passed/);

        for (const f of content.files) {
            const st = statSync(r.at(f.path));
            assert.equal(readFileSync(r.at(f.path), "utf8"), f.content, `${f.path}: content`);
            assert.equal((st.mode & 0o7777).toString(8).padStart(4, "0"), f.permissions, `${f.path}: mode`);
            assert.deepEqual([st.uid, st.gid], [0, 0], `${f.path}: owner root:root`);
        }
        for (const u of content.units)
            assert.equal(readFileSync(r.at(`/etc/systemd/system/${u.name}`), "utf8"), u.content, `${u.name}: text`);
        // Ignition appends the lines as it handles the units, in no set order; order means nothing in a preset file.
        assert.deepEqual(
            r.read(PRESET).split("\n").filter(Boolean).sort(),
            content.units.map((u) => `enable ${u.name}`).sort(),
            "one enable line per unit",
        );
        const wants = (u: string) => r.at(`/etc/systemd/system/multi-user.target.wants/${u}`);
        assert.ok(
            content.units.every((u) => !existsSync(wants(u.name))),
            "Ignition enables through presets only: no .wants link yet",
        );
        const keys = r.at("/home/core/.ssh/authorized_keys.d/ignition");
        assert.equal(readFileSync(keys, "utf8"), `${SSH_KEY}\n`);
        assert.deepEqual([statSync(keys).uid, statSync(keys).mode & 0o777], [CORE_UID, 0o600], "the key file is core's, 0600");
    });

    it("boots the root Ignition wrote, presets applied as systemd's first boot does: every container up, in dependency order, with its argv", async () => {
        assert.ok(root && residue && existsSync(root.at(PRESET)), "the files test ran first");
        const r = root;
        // systemd applies presets itself on a first boot (/etc/machine-id not yet set: src/core/manager.c
        // manager_preset_all, `preset-all` in enable-only mode); that is how the units Ignition listed get
        // enabled on Flatcar (flatcar-docs provisioning/ignition/boot-process.md: presets are evaluated
        // again only once the machine id is removed). The same operation, offline, before this boot,
        // with this Debian machine's own presets set aside: Flatcar's are not Debian's, and nothing but
        // what Ignition named is enabled (enable-only mode never disables).
        r.write("/etc/systemd/system-preset/90-systemd.preset", "");
        r.write("/etc/systemd/system-preset/99-boot-test.preset", "disable *\n");
        const preset = spawnSync("systemctl", [`--root=${r.root}`, "preset-all", "--preset-mode=enable-only"], { encoding: "utf8" });
        assert.equal(preset.status, 0, preset.stderr);
        for (const u of content.units) {
            const link = r.at(`/etc/systemd/system/multi-user.target.wants/${u.name}`);
            assert.ok(lstatSync(link).isSymbolicLink(), `${u.name} is enabled`);
            assert.equal(readlinkSync(link), `/etc/systemd/system/${u.name}`);
        }

        host = new HostBoot({
            root: r,
            residue,
            units: content.units,
            containers: seedContainers,
            artifactSha256: SHA,
            artifactDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            machineName: `coreos-ign-${process.pid}`,
        });
        const first = await host.boot("Ignition's first boot");
        host.check(first, FIRST_BOOT_IMAGE_STEP, FIRST_BOOT_NETWORK_CALLS);
        console.log(`    ignition boot: until every container ran ${first.bootMs} ms, poweroff ${first.shutdownMs} ms`);
    });
});
