// Structural comparison of plain JSON-like values: which paths differ, and how.
// Pure: no Pulumi, no I/O.
import { isPlainObject } from "../../units/values";

/** One leaf that differs between two values. `undefined` on a side means "absent there". */
export interface ValueChange {
    /** `tags.environment`, `rules[0].noncurrentVersionExpiration.noncurrentDays`; `""` is the whole value. */
    readonly path: string;
    readonly before: unknown;
    readonly after: unknown;
}

function join(at: string, key: string): string {
    return /^[A-Za-z_$][\w$]*$/.test(key) ? (at ? `${at}.${key}` : key) : `${at}[${JSON.stringify(key)}]`;
}

/**
 * Every leaf where `a` and `b` differ, in a stable order (object keys sorted). Objects are compared key
 * by key; arrays of equal length element by element; arrays of different lengths as one value.
 */
export function diffValues(a: unknown, b: unknown, at = ""): ValueChange[] {
    if (isPlainObject(a) && isPlainObject(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        return keys.flatMap((k) => diffValues(a[k], b[k], join(at, k)));
    }
    // A map only on one side: its leaves, so `kibana.env.FOO: (none) → "bar"` rather than one blob.
    if (a === undefined && isPlainObject(b) && Object.keys(b).length > 0) return diffValues({}, b, at);
    if (b === undefined && isPlainObject(a) && Object.keys(a).length > 0) return diffValues(a, {}, at);
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
        return a.flatMap((x, i) => diffValues(x, b[i], `${at}[${i}]`));
    }
    return deepEqual(a, b) ? [] : [{ path: at, before: a, after: b }];
}

export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
    if (isPlainObject(a) && isPlainObject(b)) {
        const ka = Object.keys(a);
        return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
    }
    return false;
}

/** A short one-line rendering of a value for a table cell, or undefined when it would not be short. */
export function shortValue(v: unknown, max = 80): string | undefined {
    if (v === undefined) return "(none)";
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (text === undefined || text.length > max || /[\r\n]/.test(text)) return undefined;
    return text;
}
