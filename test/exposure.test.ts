// Who may reach each published port: the security group's exact rules per exposure choice, the
// stack's overrides, the rule quota, and a planned stack (child processes) that names CIDRs.
import { strict as assert } from "node:assert";
import { checkStackConfig, unknownPortProblems } from "../config";
import { PROJECT, loadStackConfig } from "../scripts/offline";
import { ContainerUnit, PortMapping, applyOverrides } from "../units";
import { DEFAULT_SECURITY_GROUP_RULE_LIMIT, inboundRuleCount, ingressRules, publishedPorts, ruleLimitProblems } from "../units/exposure";
import { renderContainerUnit } from "../units/systemd";
import { fluentd, nginx, seedContainers } from "./helpers/fixtures";
import { runPlanScript, planArgs } from "./helpers/plan";

const key = (k: string) => `${PROJECT}:${k}`;
const app = (ports: PortMapping[]): ContainerUnit => ({
    kind: "container",
    name: "app",
    image: { kind: "registry", ref: "app:1.0.0" },
    ports,
});
const rules = (containers: readonly ContainerUnit[], ssh: string[] = []) =>
    ingressRules(publishedPorts(containers), ssh).map((r) => `${r.fromPort}/${r.protocol} ${r.cidrBlocks.join(",")}`);

describe("exposure: the security group holds exactly the rules each port's exposure names", () => {
    it('"internet" is one rule from 0.0.0.0/0', () => {
        assert.deepEqual(rules([app([{ host: 80, container: 8080, expose: "internet" }])]), ["80/tcp 0.0.0.0/0"]);
    });

    it("a list of CIDRs is one rule with exactly those (sorted, each once); udp apart from tcp", () => {
        const c = app([
            { host: 24224, container: 24224, expose: ["10.1.0.0/16", "10.0.0.0/16", "10.1.0.0/16"] },
            { host: 24224, container: 24224, protocol: "udp", expose: ["10.0.0.0/16"] },
        ]);
        assert.deepEqual(rules([c]), ["24224/tcp 10.0.0.0/16,10.1.0.0/16", "24224/udp 10.0.0.0/16"]);
    });

    it('no exposure, an empty list and "host" open nothing', () => {
        const c = app([
            { host: 9000, container: 9000 },
            { host: 9001, container: 9001, expose: [] },
            { host: 9002, container: 9002, expose: "host" },
        ]);
        assert.deepEqual(rules([c]), []);
    });

    it('"host" binds the port to 127.0.0.1; the others publish on every interface (the security group decides)', () => {
        const c = app([
            { host: 9000, container: 9000 },
            { host: 9002, container: 9002, protocol: "udp", expose: "host" },
            { host: 80, container: 80, expose: "internet" },
        ]);
        const text = renderContainerUnit(c).content;
        assert.ok(text.includes("  -p 9000:9000/tcp \\\n"), text);
        assert.ok(text.includes("  -p 127.0.0.1:9002:9002/udp \\\n"), text);
        assert.ok(text.includes("  -p 80:80/tcp \\\n"), text);
    });

    it("the seed's defaults: nginx's 80 and 443 from anywhere, fluentd's 24224 from nobody outside the host", () => {
        assert.deepEqual(
            (nginx.ports ?? []).map((p) => p.expose),
            ["internet", "internet"],
        );
        assert.deepEqual(
            (fluentd.ports ?? []).map((p) => p.expose),
            [undefined, undefined],
        );
        assert.deepEqual(rules(seedContainers), ["80/tcp 0.0.0.0/0", "443/tcp 0.0.0.0/0"]);
    });

    it("rules come in port order, tcp before udp, whatever order the containers define them in", () => {
        const web = app([
            { host: 8443, container: 443, protocol: "udp", expose: "internet" },
            { host: 8443, container: 443, expose: "internet" },
            { host: 53, container: 53, protocol: "udp", expose: ["10.0.0.0/8"] },
        ]);
        const dns: ContainerUnit = { ...app([{ host: 53, container: 53, expose: ["10.0.0.0/8"] }]), name: "dns" };
        const expected = ["53/tcp 10.0.0.0/8", "53/udp 10.0.0.0/8", "8443/tcp 0.0.0.0/0", "8443/udp 0.0.0.0/0"];
        assert.deepEqual(rules([web, dns]), expected);
        assert.deepEqual(rules([dns, web]), expected);
    });

    it("the first container to publish a port names its rule and decides who may reach it", () => {
        const first: ContainerUnit = { ...app([{ host: 9100, container: 9100, expose: ["10.0.0.0/16"] }]), name: "first" };
        const second: ContainerUnit = { ...app([{ host: 9100, container: 9200, expose: "internet" }]), name: "second" };
        assert.deepEqual(
            ingressRules(publishedPorts([first, second]), []).map((r) => [r.description, r.cidrBlocks.join(",")]),
            [["published by first", "10.0.0.0/16"]],
        );
        assert.deepEqual(
            publishedPorts([second, first]).map((p) => p.publishedBy),
            ["second"],
        );
    });

    it("SSH from named CIDRs counts as rules too", () => {
        const r = ingressRules(publishedPorts(seedContainers), ["203.0.113.0/24", "198.51.100.0/24"]);
        assert.equal(inboundRuleCount(r), 4);
        assert.deepEqual(r[r.length - 1], {
            description: "SSH",
            protocol: "tcp",
            fromPort: 22,
            toPort: 22,
            cidrBlocks: ["198.51.100.0/24", "203.0.113.0/24"],
        });
    });
});

describe("exposure: the rule quota", () => {
    const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`);

    it("counts one rule per CIDR, per port and protocol, SSH included, and refuses one over the limit", () => {
        const c = app([
            { host: 80, container: 80, expose: cidrs(29) },
            { host: 80, container: 80, protocol: "udp", expose: cidrs(30) },
        ]);
        const at = ingressRules(publishedPorts([c]), ["203.0.113.0/24"]);
        assert.equal(inboundRuleCount(at), DEFAULT_SECURITY_GROUP_RULE_LIMIT);
        assert.deepEqual(ruleLimitProblems(at, DEFAULT_SECURITY_GROUP_RULE_LIMIT), []);
        const over = ingressRules(publishedPorts([c]), ["203.0.113.0/24", "198.51.100.0/24"]);
        const problems = ruleLimitProblems(over, DEFAULT_SECURITY_GROUP_RULE_LIMIT);
        assert.deepEqual(
            problems.map((p) => p.code),
            ["SECURITY_GROUP_RULE_LIMIT"],
        );
        assert.match(problems[0]!.message, /61 inbound rules .*80\/udp alone has 30\); the limit is 60/);
        assert.match(problems[0]!.fix, /securityGroupRuleLimit/);
    });

    it("the limit is the stack's: securityGroupRuleLimit, 60 by default", () => {
        const region = { "aws:region": "eu-west-1" };
        assert.equal(checkStackConfig(region).config.securityGroupRuleLimit, 60);
        assert.equal(checkStackConfig({ ...region, [key("securityGroupRuleLimit")]: "200" }).config.securityGroupRuleLimit, 200);
        assert.deepEqual(
            checkStackConfig({ ...region, [key("securityGroupRuleLimit")]: "0" }).problems.map((p) => p.code),
            ["CONFIG_INVALID_VALUE"],
        );
    });
});

describe("exposure: the stack's overrides (coreos-containers:containers.<name>.expose)", () => {
    const region = { "aws:region": "eu-west-1" };
    const read = (expose: unknown) => checkStackConfig({ ...region, [key("containers")]: JSON.stringify({ fluentd: { expose } }) });

    it("by port (every protocol) and by port/protocol, which wins", () => {
        const { config, problems } = read({ "24224": ["10.0.0.0/16"], "24224/udp": "host" });
        assert.deepEqual(problems, []);
        const [f] = applyOverrides([fluentd], config.containers);
        assert.deepEqual(
            f!.ports!.map((p) => [p.protocol, p.expose]),
            [
                ["tcp", ["10.0.0.0/16"]],
                ["udp", "host"],
            ],
        );
    });

    it("refuses what a security group cannot take, naming the key", () => {
        const { problems } = read({ "24224": ["0.0.0.0/0", "10.0.0.1/16", "nope"], "80x": "internet", "9000": "everyone" });
        assert.deepEqual(
            problems.map((p) => `${p.code} ${p.field}`),
            [
                // Integer-like keys come first, in numeric order (how JavaScript orders an object's keys).
                "CONFIG_WRONG_TYPE coreos-containers:containers.fluentd.expose.9000",
                "CONFIG_CIDR_OPEN_TO_WORLD coreos-containers:containers.fluentd.expose.24224[0]",
                "CONFIG_CIDR_HOST_BITS coreos-containers:containers.fluentd.expose.24224[1]",
                "CONFIG_INVALID_VALUE coreos-containers:containers.fluentd.expose.24224[2]",
                "CONFIG_INVALID_VALUE coreos-containers:containers.fluentd.expose.80x",
            ],
        );
    });

    it("refuses a port the container does not publish", () => {
        const { config, problems } = read({ "24224": "internet", "24225": "internet", "24224/udp": "host" });
        assert.deepEqual(problems, []);
        assert.deepEqual(
            unknownPortProblems({ fluentd: config.containers["fluentd"] ?? {} }, [fluentd]).map((p) => p.field),
            ["coreos-containers:containers.fluentd.expose.24225"],
        );
    });
});

describe("exposure: a planned stack (child process)", function () {
    this.timeout(120_000);
    const devContainers = () => JSON.parse(loadStackConfig("dev")[key("containers")] ?? "{}") as Record<string, object>;
    const withFluentd = (expose: unknown) => ({ ...devContainers(), fluentd: { ...devContainers()["fluentd"], expose } });

    it("a stack's CIDRs for fluentd count against its rule limit: over it, the plan fails with the count and the key to raise", async () => {
        // 4 = nginx's 80 and 443 from anywhere + fluentd's 24224 tcp and udp from the stack's one CIDR: the override reached the rules.
        const opts = {
            stack: "dev",
            config: { [key("containers")]: withFluentd({ "24224": ["10.0.0.0/16"] }), [key("securityGroupRuleLimit")]: 3 },
        };
        const r = await runPlanScript([...planArgs(opts), "--json"]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
            r.stderr,
            /\[SECURITY_GROUP_RULE_LIMIT\] security group: ingress: the host's security group would hold 4 inbound rules/,
        );
    });
});
