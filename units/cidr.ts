// IPv4 CIDRs as EC2 security groups take them. Pure; shared by config reading and validation.

/** `a.b.c.d/n`, each octet 0–255, n 0–32. */
export const CIDR = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\/(?:3[0-2]|[12]?\d)$/;

/** The network address of an IPv4 CIDR (`203.0.113.7/24` → `203.0.113.0/24`); EC2 refuses host bits. */
export function canonicalCidr(cidr: string): string {
    const [ip = "", bits = "0"] = cidr.split("/");
    const n = ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
    const size = 2 ** (32 - Number(bits));
    const network = n - (n % size);
    return `${[24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".")}/${bits}`;
}

/** What is wrong with a CIDR as a security-group source, or undefined when it is fine. */
export function cidrProblem(cidr: unknown): "invalid" | "world" | "host-bits" | undefined {
    if (typeof cidr !== "string" || !CIDR.test(cidr)) return "invalid";
    if (cidr.endsWith("/0")) return "world";
    if (canonicalCidr(cidr) !== cidr) return "host-bits";
    return undefined;
}
