// Small predicates on plain JSON-like values, shared by config reading, validation and the diff.

/** A non-null object that is not an array: a YAML or JSON map. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}
