// Data survives replacement, in two real boots (systemd-nspawn; test/helpers/dataBoot.ts) on one loop
// device standing in for the EBS volume. Host A boots first: it attaches the available volume, formats
// it (blank), mounts it, and its stateful container writes into its data folder; at poweroff the
// container stops before the disk is unmounted. Host B is a fresh root (a replacement): EC2 says the
// volume is attached to the old host for a while; B reports ready with its stateless container healthy
// and the stateful one pending, attaches once the volume is released, does not format, and its stateful
// container starts on A's data.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DATA_LABEL, containerUnitName } from "../units/layout";
import { assertNspawnUsable, HostResidue } from "./helpers/boot";
import { bootDataHost, store, web, writtenBy } from "./helpers/dataBoot";
import { LoopDisk } from "./helpers/loopDisk";

const VOLUME = "vol-0d47a0b0075e57000";
const HOST_A = { instanceId: "i-0a00000000000000a", machineId: "aaaa0000b0075e5700000000000000aa" };
const HOST_B = { instanceId: "i-0b00000000000000b", machineId: "bbbb0000b0075e5700000000000000bb" };
const RELEASE_AFTER_MS = 2500;

/** What an up container reports in boot.json: healthy with a health check, running without. */
const upState = (c: { healthCheck?: unknown }) => (c.healthCheck ? "healthy" : "running");

describe("boot: the data volume moves from the old host to its replacement (systemd-nspawn, loop device, IMDS and EC2 stand-ins inside)", function () {
    this.timeout(240_000);
    let residue: HostResidue | undefined;
    let tmp = "";
    let disk: LoopDisk | undefined;

    before(async function () {
        assertNspawnUsable();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "boot-data-"));
        disk = LoopDisk.create(tmp, 64);
        residue = await HostResidue.acquire();
    });
    after(function () {
        const problems = residue?.cleanup() ?? [];
        disk?.dispose();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        assert.deepEqual(problems, [], "systemd-nspawn's host state was not all cleaned up");
    });

    it("host A formats the blank volume once; host B waits for the old host, reports ready meanwhile, never formats, and finds A's data", async function () {
        const a = await bootDataHost({
            residue: residue!,
            machineName: `coreos-data-a-${process.pid}`,
            device: disk!.device,
            volumeId: VOLUME,
            ...HOST_A,
        });
        const explain = (b: { journal: string; console: string }) => `\n--- journal ---\n${b.journal.split("\n").slice(-80).join("\n")}`;
        assert.deepEqual(a.exit, { code: 0, signal: null }, `A powered off cleanly${explain(a)}`);
        assert.deepEqual(
            a.aws.ec2.map((q) => [q.action, q.outcome]).slice(0, 2),
            [
                ["DescribeVolumes", "ok"],
                ["AttachVolume", "ok"],
            ],
            `A attached the available volume with signed calls${explain(a)}`,
        );
        assert.match(a.journal, /carries no filesystem: formatting it as ext4/, `A formatted the blank volume${explain(a)}`);
        assert.equal(disk!.probe().get("LABEL"), DATA_LABEL);
        const uuid = disk!.probe().get("UUID");
        assert.equal(a.firstStatus["state"], "ready", `A's boot.json${explain(a)}`);
        assert.deepEqual(
            a.firstStatus["dataVolume"],
            {
                volumeId: VOLUME,
                state: "mounted",
                formatted: true,
                device: `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME.replace("-", "")}`,
                uuid,
            },
            "A's boot.json records the disk",
        );
        assert.match(
            a.late,
            new RegExp(`Id=${containerUnitName(store.name)}\\nActiveState=active`),
            `A's stateful container ran${explain(a)}`,
        );
        // Poweroff: the stateful container stops before the disk is unmounted (RequiresMountsFor= orders it After= the mount).
        assert.ok(a.storeStopAtMs !== null && a.unmountedAtMs !== null, `A's journal has the stop and the unmount${explain(a)}`);
        assert.ok(a.storeStopAtMs <= a.unmountedAtMs, "the stateful container stopped before the unmount");
        assert.doesNotMatch(a.journal, /containerdata.*(Failed|failed)|target is busy/, "the unmount was clean");
        const afterA = writtenBy(disk!.device, tmp);
        assert.deepEqual(
            afterA.map((w) => [w.name, w.machineId]),
            [[store.name, HOST_A.machineId]],
            "A's stateful container wrote into its data folder on the disk",
        );

        const b = await bootDataHost({
            residue: residue!,
            machineName: `coreos-data-b-${process.pid}`,
            device: disk!.device,
            volumeId: VOLUME,
            heldBy: { instanceId: HOST_A.instanceId, releaseAfterMs: RELEASE_AFTER_MS },
            ...HOST_B,
        });
        assert.deepEqual(b.exit, { code: 0, signal: null }, `B powered off cleanly${explain(b)}`);
        // Ready for the cutover while the old host still holds the volume: stateless healthy, stateful pending.
        assert.equal(b.firstStatus["state"], "ready", `B's first boot.json${explain(b)}`);
        const units = b.firstStatus["units"] as { container: string; state: string; data: boolean }[];
        assert.deepEqual(
            units.map((u) => [u.container, u.state, u.data]),
            [
                [web.name, "healthy", false],
                [store.name, "pending", true],
            ],
        );
        assert.deepEqual(b.firstStatus["dataVolume"], { volumeId: VOLUME, state: "waiting-for-release", formatted: false });
        assert.match(b.journal, new RegExp(`waiting for the old host ${HOST_A.instanceId} to release ${VOLUME}`));
        // Then: attached once released, not formatted (same UUID), the stateful container up on A's data.
        const attach = b.aws.ec2.filter((q) => q.action === "AttachVolume");
        assert.equal(attach.length, 1, `one AttachVolume${explain(b)}`);
        assert.ok(attach[0]!.atMs >= b.aws.releasedAtMs[VOLUME]!, "attached only after the old host released it");
        assert.doesNotMatch(b.journal, /formatting it|mkfs/, "B did not format");
        assert.match(b.journal, /already carries ext4, label 'containerdata'/);
        assert.equal(disk!.probe().get("UUID"), uuid, "the same filesystem");
        assert.match(
            b.late,
            new RegExp(`Id=${containerUnitName(store.name)}\\nActiveState=active`),
            `B's stateful container runs${explain(b)}`,
        );
        // The second verdict (the handover unit, then its report): the disk mounted, the stateful container up too.
        assert.equal(b.secondStatus["state"], "ready", `B's second boot.json${explain(b)}`);
        assert.deepEqual(
            (b.secondStatus["units"] as { container: string; state: string }[]).map((u) => [u.container, u.state]),
            [
                [web.name, "healthy"],
                [store.name, upState(store)],
            ],
        );
        assert.deepEqual(
            [(b.secondStatus["dataVolume"] as { state: string }).state, (b.secondStatus["dataVolume"] as { formatted: boolean }).formatted],
            ["mounted", false],
        );
        const afterB = writtenBy(disk!.device, tmp);
        assert.deepEqual(
            afterB.map((w) => [w.name, w.machineId]),
            [
                [store.name, HOST_A.machineId],
                [store.name, HOST_B.machineId],
            ],
            "B's stateful container ran on the folder A's wrote: the data is there",
        );
        const interruption = afterB[1]!.atMs - b.aws.releasedAtMs[VOLUME]!;
        console.log(
            `      handover (simulation): A stop→unmount ${a.unmountedAtMs - a.storeStopAtMs} ms; release→B's stateful container running ${Math.round(interruption)} ms (backoff cap 200 ms)`,
        );
    });
});
