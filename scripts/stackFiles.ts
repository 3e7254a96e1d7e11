// What a project's files say its stack config is: Pulumi.yaml's project-level values and declared
// defaults, overlaid by Pulumi.<stack>.yaml, with keys qualified by the project name as the CLI does.
// Pure: text in.
// The offline plan turns it into the strings Pulumi hands a program; `npm run diff` compares it.
import { parse } from "yaml";

export interface StackFileEntry {
    /** The value as the YAML writes it (a `{ secure: … }` map for a secret). */
    readonly value: unknown;
    readonly source: "default" | "stack";
}

/** `project:key` → entry, for the project file's text and the stack file's text (if there is one). */
export function stackFileConfig(projectYaml: string, stackYaml: string | undefined): Record<string, StackFileEntry> {
    const project = (parse(projectYaml) ?? {}) as { name?: string; config?: Record<string, unknown> };
    const qualified = (key: string) => (key.includes(":") ? key : `${project.name ?? ""}:${key}`);
    const out: Record<string, StackFileEntry> = {};
    for (const [key, spec] of Object.entries(project.config ?? {})) {
        // `value` sets a key for every stack (project-level config, e.g. aws:region); `default` declares a project key's default.
        if (spec !== null && typeof spec === "object" && ("value" in spec || "default" in spec)) {
            out[qualified(key)] = { value: "value" in spec ? spec.value : spec.default, source: "default" };
        }
    }
    const stack = stackYaml === undefined ? {} : ((parse(stackYaml) ?? {}) as { config?: Record<string, unknown> });
    for (const [key, value] of Object.entries(stack.config ?? {})) out[qualified(key)] = { value, source: "stack" };
    return out;
}
