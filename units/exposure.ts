// Who may reach each published port, as security-group rules. Pure: the containers (with the stack's
// overrides applied) in, the exact inbound rules out, so the plan-time rule count and the security
// group can never disagree.
//
// EC2 counts a rule per CIDR: "Inbound or outbound rules per security group: 60" by default, an
// adjustable quota (Amazon VPC quotas, https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html);
// a rule with three CIDRs is three rules, and SSH rules count too.
import { ContainerUnit, Exposure } from "./model";
import { Problem } from "./problems";

/** The default inbound-rule quota of a security group (`coreos-containers:securityGroupRuleLimit`). */
export const DEFAULT_SECURITY_GROUP_RULE_LIMIT = 60;

export const INTERNET = "0.0.0.0/0";

/** One port the host publishes, and who may reach it. */
export interface HostPort {
    readonly port: number;
    readonly protocol: "tcp" | "udp";
    /** Who publishes it, for the rule's description, e.g. `fluentd`. */
    readonly publishedBy: string;
    /** Sources the security group lets in: `["0.0.0.0/0"]` for the internet, named CIDRs (sorted), or none. */
    readonly cidrs: readonly string[];
}

/** The CIDRs an exposure lets in through the security group; none for "host" (bound to 127.0.0.1). */
export function exposureCidrs(expose: Exposure | undefined): string[] {
    if (expose === "internet") return [INTERNET];
    // "host", none, or (before validation has seen it) anything that is not a list: nothing.
    if (!Array.isArray(expose)) return [];
    return [...new Set<string>(expose as readonly string[])].sort();
}

/**
 * The host ports the containers publish, one per (port, protocol), sorted by port then protocol so
 * that reordering the definitions does not show up as a security-group diff. The first container
 * to publish a port names the rule; two containers on one port is a conflict validation reports.
 */
export function publishedPorts(containers: readonly ContainerUnit[]): HostPort[] {
    const ports = new Map<string, HostPort>();
    for (const c of containers) {
        for (const p of c.ports ?? []) {
            const protocol = p.protocol ?? "tcp";
            const key = `${p.host}/${protocol}`;
            if (!ports.has(key)) ports.set(key, { port: p.host, protocol, publishedBy: c.name, cidrs: exposureCidrs(p.expose) });
        }
    }
    return [...ports.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

/** One inbound rule, in the shape of `aws.ec2.SecurityGroup`'s inline `ingress`. */
export interface IngressRule {
    readonly description: string;
    readonly protocol: "tcp" | "udp";
    readonly fromPort: number;
    readonly toPort: number;
    readonly cidrBlocks: readonly string[];
}

/** Exactly the inbound rules: a port nobody outside may reach has none; SSH only from named CIDRs. */
export function ingressRules(ports: readonly HostPort[], sshCidrs: readonly string[]): IngressRule[] {
    return [
        ...ports
            .filter((p) => p.cidrs.length > 0)
            .map((p): IngressRule => ({
                description: `published by ${p.publishedBy}`,
                protocol: p.protocol,
                fromPort: p.port,
                toPort: p.port,
                cidrBlocks: [...p.cidrs],
            })),
        ...(sshCidrs.length > 0
            ? [{ description: "SSH", protocol: "tcp" as const, fromPort: 22, toPort: 22, cidrBlocks: [...new Set(sshCidrs)].sort() }]
            : []),
    ];
}

/** How many inbound rules EC2 counts: one per CIDR of each rule. */
export function inboundRuleCount(rules: readonly IngressRule[]): number {
    return rules.reduce((n, r) => n + r.cidrBlocks.length, 0);
}

/** A problem when the rules pass the security group's quota. */
export function ruleLimitProblems(rules: readonly IngressRule[], limit: number): Problem[] {
    const count = inboundRuleCount(rules);
    if (count <= limit) return [];
    const worst = [...rules].sort((a, b) => b.cidrBlocks.length - a.cidrBlocks.length)[0]!;
    return [
        {
            code: "SECURITY_GROUP_RULE_LIMIT",
            where: "security group",
            field: "ingress",
            message: `the host's security group would hold ${count} inbound rules (one per CIDR, per port and protocol, SSH included; ${worst.fromPort}/${worst.protocol} alone has ${worst.cidrBlocks.length}); the limit is ${limit}`,
            fix: "name fewer or wider CIDRs, or, if the account's quota was raised, set coreos-containers:securityGroupRuleLimit to it",
        },
    ];
}
