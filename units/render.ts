// A host definition → what the host gets, whatever the user-data format: every unit's text in start
// order, the files, the SSH keys. Validation runs first; nothing is rendered from a bad definition.
import { hostCeilingProblems } from "./ceilings";
import { HostDefinition, WriteFile } from "./model";
import { throwIfProblems } from "./problems";
import { RenderedUnit, imageUnit, renderContainerUnit, renderOneShotUnit } from "./systemd";
import { HOST_TARGET } from "./layout";
import { FileChecks, validateHost } from "./validate";
import { dataMountUnit } from "./dataVolume";

/** What the host gets: the input of every user-data format (formats/). */
export interface HostContent {
    /** Units in start order (see {@link orderedUnits}). */
    readonly units: readonly RenderedUnit[];
    readonly files: readonly WriteFile[];
    readonly sshAuthorizedKeys: readonly string[];
}

/** {@link HOST_TARGET}: one `Wants=` line per unit (a unit line stays short whatever the host's size). */
export function hostTarget(unitNames: readonly string[]): RenderedUnit {
    const lines = ["[Unit]", "Description=Everything this host runs, started together", ...unitNames.map((n) => `Wants=${n}`)];
    lines.push("", "[Install]", "WantedBy=multi-user.target", "");
    return { name: HOST_TARGET, content: lines.join("\n") };
}

/**
 * Units in start order: the host target (it pulls in all the others at once), one-shots, in the
 * order given, then each container's image unit, then containers so that each comes after the
 * containers it depends on, then the data disk's mount unit (when the host has one), then the
 * one-shots that wait for the containers (`startAfterContainers`). Among containers that are ready, the one declared first goes
 * first, so the order is stable. Dependencies are compared by name (config overrides copy containers).
 * coreos-cloudinit starts units in this list order; systemd itself follows the units' ordering.
 */
export function orderedUnits(host: HostDefinition): RenderedUnit[] {
    const containers = host.containers;
    const known = new Set(containers.map((c) => c.name));
    const placedNames = new Set<string>();
    const pending = containers.map((_, i) => i);
    const order: number[] = [];
    const ready = (i: number) => {
        const c = containers[i]!;
        return (c.dependsOn ?? []).every((d) => d.name === c.name || !known.has(d.name) || placedNames.has(d.name));
    };
    while (pending.length > 0) {
        // A cycle: validation reports it; place the rest in declaration order rather than loop.
        const at = Math.max(0, pending.findIndex(ready));
        const [i] = pending.splice(at, 1);
        placedNames.add(containers[i!]!.name);
        order.push(i!);
    }
    const early = host.oneshots.filter((u) => !u.startAfterContainers);
    const late = host.oneshots.filter((u) => u.startAfterContainers);
    const units = [
        ...early.map(renderOneShotUnit),
        ...order.map((i) => renderOneShotUnit(imageUnit(containers[i]!))),
        ...order.map((i) => renderContainerUnit(containers[i]!)),
        // The data disk's mount: coreos-cloudinit's start of it waits for the disk, maybe for the old host;
        // the host target has started everything by then. The units that wait for the containers stay last.
        ...(host.dataVolume ? [dataMountUnit(host.dataVolume.volumeId)] : []),
        ...late.map(renderOneShotUnit),
    ];
    return [hostTarget(units.map((u) => u.name)), ...units];
}

/** Validate the definition and render its units. Throws a ValidationError listing every problem. */
export function renderHostContent(host: HostDefinition, files: FileChecks): HostContent {
    throwIfProblems([...validateHost(host, files), ...hostCeilingProblems(host)]);
    return { units: orderedUnits(host), files: host.files, sshAuthorizedKeys: host.sshAuthorizedKeys };
}
