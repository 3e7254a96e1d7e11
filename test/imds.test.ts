// Containers cannot obtain the instance role's credentials, proved on this machine's real kernel: a
// simulated EC2 host in network namespaces, with a fake IMDS that sends the token PUT's response
// with the hop limit the program sets (IMDS_PUT_RESPONSE_HOP_LIMIT) as its IP TTL.
//
//   imds ns (169.254.169.254) ─veth─ host ns (169.254.0.10; bridge 172.17.0.1/16, forwarding, MASQUERADE) ─bridge─ ctr ns (172.17.0.2)
//
// The bridge, the forwarding and the MASQUERADE are Docker's own setup for bridged containers: a
// container's packets to IMDS are routed by the host, one more hop. At hop limit 1 the host's
// forwarding drops the PUT response (TTL exceeded) and the container's curl times out without a token,
// while the host's own scripts (aws.sh, zero hops) get their credentials. At hop limit 2 (the control)
// the container gets a token: the topology is sound and the test can fail. Facts behind this, measured
// with tcpdump on this machine: /work/notes/aws-host-facts.md §4–5.
import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { IMDS_PUT_RESPONSE_HOP_LIMIT } from "../components/coreosHost";
import { hostScripts } from "../units/provision";
import { BIN_DIR } from "../units/layout";
import { HOST_SCRIPTS } from "./helpers/fixtures";

const FAKE_IMDS = path.join(__dirname, "helpers", "fake-imds-ttl.py");
const IMDS = "169.254.169.254";
const TOKEN_PUT = ["-sS", "-m", "1", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", `http://${IMDS}/latest/api/token`];

function sh(cmd: string, args: readonly string[]): { status: number | null; out: string } {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
    if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
    return { status: r.status, out: r.stdout + r.stderr };
}

function must(cmd: string, args: readonly string[]): string {
    const r = sh(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.out}`);
    return r.out;
}

function runIn(ns: string, cmd: string, args: readonly string[]): Promise<{ code: number | null; out: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, out, ms: Date.now() - started }));
    });
}

describe("IMDS from containers (network namespaces on the real kernel, a TTL-setting fake IMDS)", function () {
    this.timeout(30_000);
    const ns = { imds: `cc-imds-${process.pid}`, host: `cc-host-${process.pid}`, ctr: `cc-ctr-${process.pid}` };
    // Interface names (15 characters at most) unique per run too, so parallel runs cannot collide.
    const link = { imds: `vi${process.pid}`, host: `vh${process.pid}`, ctr: `vc${process.pid}`, bridgePort: `vb${process.pid}` };
    let server: ChildProcess | undefined;
    let tmp = "";

    async function startImds(hopLimit: number): Promise<void> {
        stopImds();
        const child = spawn("ip", ["netns", "exec", ns.imds, "python3", FAKE_IMDS, IMDS, String(hopLimit)], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        server = child;
        await new Promise<void>((resolve, reject) => {
            let out = "";
            const timer = setTimeout(() => reject(new Error(`the fake IMDS did not start: ${out}`)), 10_000);
            child.stdout.on("data", (d: Buffer) => {
                out += d.toString();
                if (out.includes("ready")) {
                    clearTimeout(timer);
                    resolve();
                }
            });
            child.stderr.on("data", (d: Buffer) => (out += d.toString()));
            child.on("exit", (code) => reject(new Error(`the fake IMDS exited ${code}: ${out}`)));
        });
    }

    function stopImds(): void {
        if (server && server.exitCode === null) server.kill("SIGKILL");
        server = undefined;
    }

    before(() => {
        assert.equal(process.getuid?.(), 0, "network namespaces need root: run the tests as root (npm test does in CI)");
        for (const n of Object.values(ns)) must("ip", ["netns", "add", n]);
        const inNs = (n: string, ...args: string[]) => must("ip", ["-n", n, ...args]);
        must("ip", ["link", "add", link.imds, "netns", ns.imds, "type", "veth", "peer", "name", link.host, "netns", ns.host]);
        inNs(ns.imds, "addr", "add", `${IMDS}/16`, "dev", link.imds);
        inNs(ns.host, "addr", "add", "169.254.0.10/16", "dev", link.host);
        inNs(ns.host, "link", "add", "br0", "type", "bridge");
        inNs(ns.host, "addr", "add", "172.17.0.1/16", "dev", "br0");
        must("ip", ["link", "add", link.ctr, "netns", ns.ctr, "type", "veth", "peer", "name", link.bridgePort, "netns", ns.host]);
        inNs(ns.host, "link", "set", link.bridgePort, "master", "br0");
        inNs(ns.ctr, "addr", "add", "172.17.0.2/16", "dev", link.ctr);
        for (const l of ["lo", link.imds]) inNs(ns.imds, "link", "set", l, "up");
        for (const l of ["lo", link.host, "br0", link.bridgePort]) inNs(ns.host, "link", "set", l, "up");
        for (const l of ["lo", link.ctr]) inNs(ns.ctr, "link", "set", l, "up");
        inNs(ns.ctr, "route", "add", "default", "via", "172.17.0.1");
        must("ip", ["netns", "exec", ns.host, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        must("ip", [
            "netns",
            "exec",
            ns.host,
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "172.17.0.0/16",
            "!",
            "-o",
            "br0",
            "-j",
            "MASQUERADE",
        ]);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imds-test-"));
        for (const f of hostScripts(HOST_SCRIPTS).filter((x) => x.path === `${BIN_DIR}/aws.sh`))
            fs.writeFileSync(path.join(tmp, "aws.sh"), f.content);
    });

    after(() => {
        stopImds();
        const problems = Object.values(ns)
            .map((n) => sh("ip", ["netns", "del", n]))
            .filter((r) => r.status !== 0)
            .map((r) => r.out);
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        assert.deepEqual(problems, [], "the namespaces were not all removed");
    });

    it(`at the program's hop limit (${IMDS_PUT_RESPONSE_HOP_LIMIT}), a bridged container gets no token while the host's own scripts get their credentials`, async () => {
        await startImds(IMDS_PUT_RESPONSE_HOP_LIMIT);
        // The host: aws.sh's aws_credentials, as provision and secrets call it, against the real address.
        const host = await runIn(ns.host, "bash", ["-c", `. ${path.join(tmp, "aws.sh")} && aws_credentials && printf 'key=%s' "$aws_key"`]);
        assert.equal(host.code, 0, host.out);
        assert.equal(host.out, "key=ASIAFAKE");
        // The container: the token PUT's answer never arrives.
        const ctr = await runIn(ns.ctr, "curl", TOKEN_PUT);
        assert.equal(ctr.code, 28, `curl in the container should time out, got ${ctr.code}: ${ctr.out}`);
        assert.match(ctr.out, /Operation timed out after \d+ milliseconds with 0 bytes received/);
    });

    it("at hop limit 2 (the control) the same container gets a token: the simulation can tell", async () => {
        await startImds(IMDS_PUT_RESPONSE_HOP_LIMIT + 1);
        const ctr = await runIn(ns.ctr, "curl", [...TOKEN_PUT, "-w", "\n%{http_code}"]);
        assert.equal(ctr.code, 0, ctr.out);
        assert.match(ctr.out, /\n200$/);
    });
});
