// Realistic containers for capacity figures and the large-host tests: each like the seed's kibana,
// a little bigger: a registry image pinned by tag and digest, five env vars, two volumes (a data
// folder on the host and a config file from the artifact) and one dependency. Pure: the same count
// gives the same host. The digests (64 hex digits each, from the name) keep containers from being
// near copies of each other, which gzip would otherwise fold away and overstate what fits.
import * as crypto from "node:crypto";
import type { ContainerUnit, HostSpec } from "../../units/model";

/** The artifact file container `i` mounts, relative to the artifact's root. */
export function realisticConfigFile(i: number): string {
    return `apps/app-${i}.conf`;
}

/**
 * `count` containers named `app-0` … Container i > 0 depends on `app-⌊(i-1)/2⌋`: a tree, so the start
 * order is a real dependency order and every container has one dependency (but the first).
 */
export function realisticContainers(count: number): ContainerUnit[] {
    const out: ContainerUnit[] = [];
    for (let i = 0; i < count; i++) {
        const parent = i > 0 ? out[Math.floor((i - 1) / 2)] : undefined;
        out.push({
            kind: "container",
            name: `app-${i}`,
            description: `App ${i}, a service of the shop`,
            image: {
                kind: "registry",
                ref: `registry.example.com/shop/app-${i}:2.${i % 10}.${i}@sha256:${crypto.createHash("sha256").update(`app-${i}`).digest("hex")}`,
            },
            env: {
                APP_ENV: "production",
                APP_NAME: `app-${i}`,
                DATABASE_URL: `postgres://app_${i}@db.internal.example.com:5432/app_${i}`,
                LOG_LEVEL: "info",
                UPSTREAM_URL: parent ? `http://${parent.name}:8080` : "http://localhost:8080",
            },
            volumes: [
                { source: { kind: "host", path: `/var/lib/coreos-containers/data/app-${i}` }, target: "/var/lib/app" },
                { source: { kind: "artifact", path: realisticConfigFile(i) }, target: "/etc/app/app.conf", readOnly: true },
            ],
            ...(parent ? { dependsOn: [parent] } : {}),
        });
    }
    return out;
}

/** A host of `count` realistic containers. */
export function realisticHost(count: number): HostSpec {
    return { name: "large", containers: realisticContainers(count) };
}
