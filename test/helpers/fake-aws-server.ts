// FakeImds and FakeSsm as a process of their own, for a boot test: the container runs it as a unit
// (Type=notify), transpiled to plain JavaScript with this file's neighbour fake-aws.ts, so it needs
// nothing from the repository at run time (in CI the checkout is a bind mount the overlay root cannot
// see). It stores the parameters given, answers on fixed loopback ports of the container's private
// network, and on SIGTERM (the poweroff) writes what it saw to a JSON file the test reads afterwards.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { CredentialStore, FakeEc2, FakeImds, FakeSsm } from "./fake-aws";

/** What the test hands the stand-in (a JSON file) and what it writes back. */
export interface FakeAwsServerConfig {
    readonly region: string;
    readonly imdsPort: number;
    readonly ssmPort: number;
    /** Each parameter's values, version 1 first. */
    readonly parameters: readonly { readonly name: string; readonly values: readonly string[] }[];
    /** Where to write the record. */
    readonly record: string;
    /** IMDS's instance id and availability zone (the data volume's boot). */
    readonly instanceId?: string;
    readonly availabilityZone?: string;
    /** EC2 with these instances and volumes (the data volume's boot); `releaseAfterMs`: attached until then, then available. */
    readonly ec2?: {
        readonly port: number;
        readonly instances: readonly string[];
        readonly volumes: readonly { readonly id: string; readonly attachedTo?: string; readonly releaseAfterMs?: number }[];
    };
}

export interface FakeAwsServerRecord {
    readonly ssm: FakeSsm["requests"];
    /** EC2 calls, each with when it was answered (ms since the epoch) and what DescribeVolumes would say then. */
    readonly ec2: readonly (FakeEc2["requests"][number] & { readonly atMs: number })[];
    /** When each scripted release took effect (ms since the epoch). */
    readonly releasedAtMs: Readonly<Record<string, number>>;
    /** Access key ids IMDS handed out, in order. */
    readonly issued: readonly string[];
}

let ec2Requests: () => FakeAwsServerRecord["ec2"] = () => [];

async function main(): Promise<void> {
    const cfg = JSON.parse(fs.readFileSync(process.argv[2]!, "utf8")) as FakeAwsServerConfig;
    const store = new CredentialStore();
    const imds = new FakeImds({
        store,
        ...(cfg.instanceId ? { instanceId: cfg.instanceId } : {}),
        ...(cfg.availabilityZone ? { availabilityZone: cfg.availabilityZone } : {}),
    });
    const ssm = new FakeSsm({ store, region: cfg.region });
    for (const p of cfg.parameters) for (const v of p.values) ssm.put(p.name, v);
    await imds.start(cfg.imdsPort);
    await ssm.start(cfg.ssmPort);
    const times: number[] = [];
    const releasedAtMs: Record<string, number> = {};
    if (cfg.ec2) {
        const ec2 = new FakeEc2({ store, region: cfg.region });
        for (const i of cfg.ec2.instances) ec2.addInstance(i, {});
        for (const v of cfg.ec2.volumes) {
            ec2.addVolume(v.id, cfg.availabilityZone ?? `${cfg.region}a`, v.attachedTo);
            if (v.releaseAfterMs !== undefined) {
                ec2.releaseAfter(v.id, v.releaseAfterMs);
                releasedAtMs[v.id] = Date.now() + v.releaseAfterMs;
            }
        }
        const requests = ec2.requests;
        const push = requests.push.bind(requests);
        requests.push = (...items) => {
            for (const _ of items) times.push(Date.now());
            return push(...items);
        };
        await ec2.start(cfg.ec2.port);
        ec2Requests = () => requests.map((r, i) => ({ ...r, atMs: times[i]! }));
    }
    const write = () => {
        const record: FakeAwsServerRecord = {
            ssm: ssm.requests,
            ec2: ec2Requests(),
            releasedAtMs,
            issued: imds.issued.map((c) => c.accessKeyId),
        };
        fs.writeFileSync(cfg.record, JSON.stringify(record));
    };
    process.on("SIGTERM", () => {
        write();
        process.exit(0);
    });
    execFileSync("systemd-notify", ["--ready"]);
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(e);
        process.exit(1);
    });
}
