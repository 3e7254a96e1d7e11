// Whether a host needs the persistent data volume. Pure.
import { ContainerUnit } from "./model";

/**
 * True when a container mounts the data volume (`source: { kind: "data", … }`). The data mount kind
 * belongs to the typed model (units/model.ts); the check reads the source's `kind` through a wider
 * type so that it compiles before and after that kind is part of `VolumeSource`.
 */
export function usesDataVolume(containers: readonly ContainerUnit[]): boolean {
    return containers.some((c) => (c.volumes ?? []).some((v) => (v?.source as { readonly kind?: string } | undefined)?.kind === "data"));
}
