// The one place where values become systemd unit text.
//
// systemd reads an `Exec*=` line as words (double or single quotes group, C escapes are decoded),
// expands `%` specifiers, and at exec time turns `$$` into `$` and substitutes
// `$VAR`/`${VAR}`. A value we pass must reach the program unchanged, so every literal `%` becomes
// `%%`, every literal `$` becomes `$$`, and a word that systemd would split, unquote, unescape or
// refuse is double-quoted with C escapes. `Environment=` lines get the same quoting, but no `$`
// doubling: systemd does not substitute variables there.
//
// test/quote.test.ts proves this with systemd 252's own parser over a table of nasty values. What it
// found, besides the obvious:
// - A continuation line whose first word starts with `#` or `;` is a comment: systemd drops it and
//   the words on it. Such words are quoted, so no line of an `Exec*=` command can start with them.
// - systemd refuses a whole line that holds a Unicode noncharacter (U+FDD0–U+FDEF, U+xFFFE,
//   U+xFFFF: "not UTF-8 clean"). In an `Exec*=` word it takes them as `\xHH` escapes of their UTF-8
//   bytes; `\U` escapes of them are refused too. In `Environment=` it refuses them in any form.
// - A NUL byte cannot be written at all (`\x00` is kept as the four characters), and a lone UTF-16
//   surrogate has no UTF-8 form. Validation rejects both; these functions throw rather than write
//   a unit that passes something else.

// Code points systemd 252 does not accept as UTF-8 (its unichar_is_valid()): noncharacters.
const NONCHARACTER = new RegExp(
    "[\\u{FDD0}-\\u{FDEF}" +
        Array.from(
            { length: 17 },
            (_, plane) => `\\u{${(plane * 0x10000 + 0xfffe).toString(16)}}\\u{${(plane * 0x10000 + 0xffff).toString(16)}}`,
        ).join("") +
        "]",
    "u",
);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// A word needs quotes when systemd would split it, unquote it, unescape it or refuse it, and when it
// starts with a comment character (it may open a continuation line).
const NEEDS_QUOTES = new RegExp(`[\\s"'\\\\\\x00-\\x1f\\x7f]|^[#;]|${NONCHARACTER.source}`, "u");
const NEEDS_ESCAPE = new RegExp(`[\\\\"\\x00-\\x1f\\x7f]|${NONCHARACTER.source}`, "gu");

/** Valid names for systemd's `Environment=` (env_name_is_valid): others are ignored with a warning. No dots. */
export const SYSTEMD_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const C_ESCAPES: Readonly<Record<string, string>> = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\v": "\\v",
    "\f": "\\f",
    "\b": "\\b",
    "\x07": "\\a",
};

function hexByte(byte: number): string {
    return "\\x" + byte.toString(16).padStart(2, "0");
}

function cEscape(ch: string): string {
    const known = C_ESCAPES[ch];
    if (known !== undefined) return known;
    // A control character is one byte; a noncharacter becomes its UTF-8 bytes.
    return Array.from(Buffer.from(ch, "utf8"), hexByte).join("");
}

function assertExpressible(value: string, what: string): void {
    if (value.includes("\0"))
        throw new Error(`${what} ${JSON.stringify(value)} contains a NUL character, which a systemd unit cannot carry`);
    if (LONE_SURROGATE.test(value))
        throw new Error(`${what} ${JSON.stringify(value)} contains a lone UTF-16 surrogate, which has no UTF-8 form`);
}

/** Quote one word for systemd's word splitting, without specifier or variable escaping. */
function quoteWord(word: string): string {
    if (word === "") return '""';
    // A lone ";" separates commands on an Exec line; systemd reads "\;" as a literal semicolon.
    if (word === ";") return "\\;";
    if (!NEEDS_QUOTES.test(word)) return word;
    return '"' + word.replace(NEEDS_ESCAPE, cEscape) + '"';
}

function escapeSpecifiers(text: string): string {
    return text.replace(/%/g, "%%");
}

/** One argv word for an `Exec*=` line: reaches the program exactly as given. Throws for NUL and lone surrogates. */
export function execWord(word: string): string {
    assertExpressible(word, "the argument");
    return escapeSpecifiers(quoteWord(word)).replace(/\$/g, "$$$$");
}

/** A whole command for an `Exec*=` line. `argv[0]` must be an absolute path. */
export function execLine(argv: readonly string[]): string {
    return argv.map(execWord).join(" ");
}

/**
 * A command split over continuation lines: the executable and its leading words on the first
 * line, then one group (a flag and its value) per line. `groups` are argv fragments.
 */
export function execLines(head: readonly string[], groups: readonly (readonly string[])[]): string {
    const lines = [execLine(head), ...groups.filter((g) => g.length > 0).map(execLine)];
    return lines.join(" \\\n  ");
}

/**
 * The value of an `Environment=` line: `"KEY=value"` quoted as one word. Throws for what systemd
 * would ignore or change: a key that is not a shell variable name, NUL, lone surrogates, noncharacters.
 */
export function environmentAssignment(key: string, value: string): string {
    if (!SYSTEMD_ENV_NAME.test(key))
        throw new Error(`environment name ${JSON.stringify(key)} is not a shell variable name; systemd would ignore it`);
    assertExpressible(value, `the value of ${key}`);
    if (NONCHARACTER.test(value))
        throw new Error(`the value of ${key} contains a Unicode noncharacter, which systemd refuses in Environment=`);
    return escapeSpecifiers(quoteWord(`${key}=${value}`));
}

/** Does a unit-file line end in a backslash that systemd reads as "continued on the next line"? */
function continuesOnNextLine(line: string): boolean {
    let escaped = false;
    for (const ch of line) escaped = escaped ? false : ch === "\\";
    return escaped;
}

/**
 * A free-text value such as `Description=`: one line, specifiers escaped. Control characters
 * (newlines included) and characters systemd refuses become spaces. A trailing unpaired backslash
 * would join the next line to this one; a space after it stops that, and systemd trims the space.
 */
export function textValue(value: string): string {
    const line = escapeSpecifiers(
        value
            // eslint-disable-next-line no-control-regex -- a unit-file line cannot carry control characters
            .replace(/[\x00-\x1f\x7f]+/g, " ")
            .replace(new RegExp(NONCHARACTER.source, "gu"), " ")
            .replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD"),
    );
    return continuesOnNextLine(line) ? line + " " : line;
}
