// FakeImds and FakeSsm as a process of their own, for a boot test: the container runs it as a unit
// (Type=notify), transpiled to plain JavaScript with this file's neighbour fake-aws.ts, so it needs
// nothing from the repository at run time (in CI the checkout is a bind mount the overlay root cannot
// see). It stores the parameters given, answers on fixed loopback ports of the container's private
// network, and on SIGTERM (the poweroff) writes what it saw to a JSON file the test reads afterwards.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { CredentialStore, FakeImds, FakeSsm } from "./fake-aws";

/** What the test hands the stand-in (a JSON file) and what it writes back. */
export interface FakeAwsServerConfig {
    readonly region: string;
    readonly imdsPort: number;
    readonly ssmPort: number;
    /** Each parameter's values, version 1 first. */
    readonly parameters: readonly { readonly name: string; readonly values: readonly string[] }[];
    /** Where to write the record. */
    readonly record: string;
}

export interface FakeAwsServerRecord {
    readonly ssm: FakeSsm["requests"];
    /** Access key ids IMDS handed out, in order. */
    readonly issued: readonly string[];
}

async function main(): Promise<void> {
    const cfg = JSON.parse(fs.readFileSync(process.argv[2]!, "utf8")) as FakeAwsServerConfig;
    const store = new CredentialStore();
    const imds = new FakeImds({ store });
    const ssm = new FakeSsm({ store, region: cfg.region });
    for (const p of cfg.parameters) for (const v of p.values) ssm.put(p.name, v);
    await imds.start(cfg.imdsPort);
    await ssm.start(cfg.ssmPort);
    const write = () => {
        const record: FakeAwsServerRecord = { ssm: ssm.requests, issued: imds.issued.map((c) => c.accessKeyId) };
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
