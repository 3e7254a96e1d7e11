// Canonical JSON: keys sorted at every level, no whitespace, one trailing newline. The same config
// gives the same bytes, so its hash (the object's key and the stub's verification) is stable.

/** JSON values as the configs here use them. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

function sorted(value: Json): Json {
    if (Array.isArray(value)) return (value as readonly Json[]).map(sorted);
    if (value !== null && typeof value === "object") {
        const obj = value as { readonly [key: string]: Json };
        return Object.fromEntries(
            Object.keys(obj)
                .sort()
                .map((k) => [k, sorted(obj[k]!)]),
        );
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error(`canonical JSON takes whole numbers only, not ${value}`);
    return value;
}

/** `value` as canonical JSON text. */
export function canonicalJson(value: Json): string {
    return JSON.stringify(sorted(value)) + "\n";
}
