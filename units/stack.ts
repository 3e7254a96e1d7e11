// A stack's containers: the host's definitions with the stack's config overrides applied.
// Config validation (config.ts) has already refused overrides that name no container of the host.
import { ContainerUnit, ImageSource } from "./model";

/** What a stack may change per container (see `coreos-containers:containers`). */
export interface ContainerOverride {
    readonly image?: ImageSource;
    readonly env?: Readonly<Record<string, string>>;
}

/** Apply per-container overrides: `image` replaces, `env` is merged over the definition's. */
export function applyOverrides(
    containers: readonly ContainerUnit[],
    overrides: Readonly<Record<string, ContainerOverride>>,
): ContainerUnit[] {
    return containers.map((c) => {
        const o = Object.hasOwn(overrides, c.name) ? overrides[c.name] : undefined;
        if (!o) return c;
        return { ...c, ...(o.image ? { image: o.image } : {}), ...(o.env ? { env: { ...(c.env ?? {}), ...o.env } } : {}) };
    });
}
