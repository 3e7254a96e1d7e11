// A stack's containers: the default definitions with the stack's config overrides applied.
import { ContainerUnit, ImageSource } from "./model";
import { Problem } from "./problems";

/** What a stack may change per container (see `coreos-containers:containers`). */
export interface ContainerOverride {
    readonly image?: ImageSource;
    readonly env?: Readonly<Record<string, string>>;
}

/**
 * Apply per-container overrides: `image` replaces, `env` is merged over the defaults.
 * Returns the new list and a problem for each override naming no container.
 */
export function applyOverrides(
    containers: readonly ContainerUnit[],
    overrides: Readonly<Record<string, ContainerOverride>>,
): { containers: ContainerUnit[]; problems: Problem[] } {
    const known = new Set(containers.map((c) => c.name));
    const problems: Problem[] = Object.keys(overrides)
        .filter((name) => !known.has(name))
        .sort()
        .map((name) => ({
            where: "config",
            field: `coreos-containers:containers.${name}`,
            message: `there is no container named ${JSON.stringify(name)}`,
            fix: `use one of: ${[...known].join(", ")}`,
        }));
    const result = containers.map((c) => {
        const o = overrides[c.name];
        if (!o) return c;
        return { ...c, ...(o.image ? { image: o.image } : {}), ...(o.env ? { env: { ...(c.env ?? {}), ...o.env } } : {}) };
    });
    return { containers: result, problems };
}
