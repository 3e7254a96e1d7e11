// `npm run bench:handover [-- --runs N] [--release-ms MS] [--cap-ms MS]`
//
// The interruption of stateful containers when a host is replaced, in simulation: two boots under real
// systemd (systemd-nspawn, test/helpers/dataBoot.ts) on one loop device standing in for the EBS volume.
// Host A boots and formats it; host B boots while the EC2 stand-in says the volume is still attached to
// A, until --release-ms after B's stand-in started (the cutover's retire step detaching it). Printed:
//   - on A at poweroff: `docker stop` of the stateful container → the disk unmounted (systemd's journal);
//   - on B: the volume released → the stateful container's `docker run` on the mounted disk (the fake
//     Docker calls it healthy at once: a real Prometheus or Elasticsearch adds its own start-up);
//   - their sum: the simulated interruption, without what EC2 itself takes to detach and attach
//     (seconds, not simulated here) and without the retire step's own calls.
// The data unit polls DescribeVolumes with backoff capped at --cap-ms while it waits (production: 5 s, DATA_POLL_CAP_MS),
// so B notices a release up to that late. Needs root (mount, losetup, systemd-nspawn); wall-clock numbers.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { HostResidue, assertNspawnUsable } from "../test/helpers/boot";
import { bootDataHost, writtenBy } from "../test/helpers/dataBoot";
import { LoopDisk } from "../test/helpers/loopDisk";

const VOLUME = "vol-0be4c40000000b0a1";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            runs: { type: "string", default: "3" },
            "release-ms": { type: "string", default: "3000" },
            "cap-ms": { type: "string", default: "5000" },
        },
    });
    const runs = Number(values.runs);
    const releaseMs = Number(values["release-ms"]);
    const capMs = Number(values["cap-ms"]);
    assertNspawnUsable();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-handover-"));
    const disk = LoopDisk.create(tmp, 64);
    const residue = await HostResidue.acquire();
    const rows: { stop: number; resume: number }[] = [];
    try {
        const a = await bootDataHost({
            residue,
            machineName: `bench-handover-a-${process.pid}`,
            machineId: "aaaa0000be4c0000000000000000000a",
            instanceId: "i-0a00000000000000a",
            device: disk.device,
            volumeId: VOLUME,
            pollCapMs: capMs,
        });
        if (a.storeStopAtMs === null || a.unmountedAtMs === null)
            throw new Error(`host A: no stop or unmount in its journal\n${a.journal}`);
        let stop = a.unmountedAtMs - a.storeStopAtMs;
        for (let i = 0; i < runs; i++) {
            const id = `bbbb0000be4c00000000000000000${String(i).padStart(3, "0")}`;
            const b = await bootDataHost({
                residue,
                machineName: `bench-handover-b${i}-${process.pid}`,
                machineId: id,
                instanceId: `i-0b0000000000000${String(i).padStart(2, "0")}`,
                device: disk.device,
                volumeId: VOLUME,
                heldBy: { instanceId: "i-0a00000000000000a", releaseAfterMs: releaseMs },
                pollCapMs: capMs,
            });
            const run = writtenBy(disk.device, tmp).find((w) => w.machineId === id);
            if (!run) throw new Error(`run ${i + 1}: the stateful container never ran on host B\n${b.journal}`);
            const resume = run.atMs - b.aws.releasedAtMs[VOLUME]!;
            rows.push({ stop, resume });
            console.log(
                `run ${i + 1}: old host stop→unmount ${Math.round(stop)} ms; release→new host's stateful container running ${Math.round(resume)} ms; interruption ${Math.round(stop + resume)} ms`,
            );
            // The next run's "old host" is this B: its poweroff stopped the container and unmounted.
            if (b.storeStopAtMs !== null && b.unmountedAtMs !== null) stop = b.unmountedAtMs - b.storeStopAtMs;
        }
    } finally {
        const problems = residue.cleanup();
        disk.dispose();
        fs.rmSync(tmp, { recursive: true, force: true });
        if (problems.length) console.error(`cleanup: ${problems.join("; ")}`);
    }
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
    console.log(
        `median of ${rows.length}: stop→unmount ${Math.round(median(rows.map((r) => r.stop)))} ms, release→running ${Math.round(median(rows.map((r) => r.resume)))} ms, interruption ${Math.round(median(rows.map((r) => r.stop + r.resume)))} ms (backoff cap ${capMs} ms; EC2's own detach/attach not included)`,
    );
    console.log(`load average at the end: ${os.loadavg()[0]!.toFixed(2)}`);
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
