// A stack's containers: the host's definitions with the stack's config overrides applied.
// Config validation (config.ts) has already refused overrides that name no container of the host.
import { ContainerUnit, Exposure, ImageSource, PortMapping } from "./model";

/** What a stack may change per container (see `coreos-containers:containers`). */
export interface ContainerOverride {
    readonly image?: ImageSource;
    readonly env?: Readonly<Record<string, string>>;
    /** Who may reach a published host port, by `"<port>"` or `"<port>/<protocol>"`, over the definition's `expose`. */
    readonly expose?: Readonly<Record<string, Exposure>>;
}

/** A port with the stack's exposure: `"<port>/<protocol>"` wins over `"<port>"`, which wins over the definition. */
function exposed(p: PortMapping, expose: Readonly<Record<string, Exposure>>): PortMapping {
    const byProtocol = `${p.host}/${p.protocol ?? "tcp"}`;
    const byPort = String(p.host);
    const e = Object.hasOwn(expose, byProtocol) ? expose[byProtocol] : Object.hasOwn(expose, byPort) ? expose[byPort] : undefined;
    return e === undefined ? p : { ...p, expose: e };
}

/** Apply per-container overrides: `image` replaces, `env` is merged over the definition's. */
export function applyOverrides(
    containers: readonly ContainerUnit[],
    overrides: Readonly<Record<string, ContainerOverride>>,
): ContainerUnit[] {
    return containers.map((c) => {
        const o = Object.hasOwn(overrides, c.name) ? overrides[c.name] : undefined;
        if (!o) return c;
        return {
            ...c,
            ...(o.image ? { image: o.image } : {}),
            ...(o.env ? { env: { ...(c.env ?? {}), ...o.env } } : {}),
            ...(o.expose && c.ports ? { ports: c.ports.map((p) => exposed(p, o.expose!)) } : {}),
        };
    });
}
