// A host definition → the cloud-config document the instance receives as user-data.
import { stringify } from "yaml";
import { HostDefinition } from "./model";
import { RenderedUnit, renderContainerUnit, renderOneShotUnit } from "./systemd";
import { containerUnitName } from "./layout";
import { validateCloudConfig } from "./cloudinit";
import { FileChecks, validateHost } from "./validate";
import { Problem, throwIfProblems } from "./problems";

/** EC2 refuses user-data above this many bytes (before base64). */
export const USER_DATA_LIMIT = 16384;

/**
 * Units in the order coreos-cloudinit should start them: one-shots first (in the order given),
 * then containers so that every container comes after those it depends on. Ties keep
 * declaration order, so the order is stable.
 */
export function orderedUnits(host: HostDefinition): RenderedUnit[] {
    const containers = [...host.containers];
    const placed = new Set<string>();
    const ordered: typeof containers = [];
    while (ordered.length < containers.length) {
        const next = containers.find((c) => !placed.has(c.name) && (c.dependsOn ?? []).every((d) => placed.has(d.name)));
        // A cycle or a missing dependency: validation reports it; render the rest in declaration order.
        const pick = next ?? containers.find((c) => !placed.has(c.name))!;
        placed.add(pick.name);
        ordered.push(pick);
    }
    return [...host.oneshots.map(renderOneShotUnit), ...ordered.map(renderContainerUnit)];
}

/** The cloud-config document as a plain object (before YAML). */
export function cloudConfigObject(host: HostDefinition, units: readonly RenderedUnit[]): Record<string, unknown> {
    const doc: Record<string, unknown> = {};
    if (host.sshAuthorizedKeys.length > 0) doc["ssh_authorized_keys"] = [...host.sshAuthorizedKeys];
    if (host.files.length > 0) {
        doc["write_files"] = host.files.map((f) => ({
            path: f.path,
            permissions: f.permissions,
            owner: f.owner ?? "root:root",
            content: f.content,
        }));
    }
    doc["coreos"] = {
        units: units.map((u) => ({ name: u.name, command: "start", ...(u.enable ? { enable: true } : {}), content: u.content })),
    };
    return doc;
}

/** Serialise as `#cloud-config` YAML. */
export function serializeCloudConfig(doc: Record<string, unknown>): string {
    return "#cloud-config\n" + stringify(doc, { lineWidth: 0, minContentWidth: 0, indent: 2, indentSeq: false, blockQuote: "literal", defaultStringType: "PLAIN", defaultKeyType: "PLAIN" });
}

export interface RenderedHost {
    /** Units in start order. */
    readonly units: readonly RenderedUnit[];
    /** Exactly the bytes the instance receives. */
    readonly userData: string;
}

function sizeProblems(userData: string): Problem[] {
    const bytes = Buffer.byteLength(userData, "utf8");
    if (bytes <= USER_DATA_LIMIT) return [];
    return [{
        where: "user-data",
        field: "size",
        message: `${bytes} bytes is over EC2's limit of ${USER_DATA_LIMIT} bytes`,
        fix: "move large files into the artifact (artifact/) instead of write_files, or run fewer containers on this host",
    }];
}

/** Validate, render and check the whole document. Throws a ValidationError listing every problem. */
export function renderHost(host: HostDefinition, files: FileChecks): RenderedHost {
    throwIfProblems(validateHost(host, files));
    const units = orderedUnits(host);
    const userData = serializeCloudConfig(cloudConfigObject(host, units));
    throwIfProblems([...validateCloudConfig(userData), ...sizeProblems(userData)], "the rendered user-data");
    return { units, userData };
}

export { containerUnitName };
