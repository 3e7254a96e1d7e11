// The one place where values become systemd unit text.
//
// systemd reads an `Exec*=` line as words (double or single quotes group, C escapes are decoded),
// expands `%` specifiers in the whole line before that, and substitutes `$VAR`/`${VAR}` at exec
// time. A value we pass must reach the program unchanged, so every literal `%` becomes `%%`, every
// literal `$` becomes `$$`, and a word that systemd would split or unescape is double-quoted with
// C escapes. `Environment=` lines get the same quoting, but no `$` doubling: systemd does not
// substitute variables there.

// A word needs quotes when systemd would split it, unquote it, or unescape it.
const NEEDS_QUOTES = /[\s"'\\\x00-\x1f\x7f]/;

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

function cEscape(ch: string): string {
    const known = C_ESCAPES[ch];
    if (known !== undefined) return known;
    return "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0");
}

/** Quote one word for systemd's word splitting, without specifier or variable escaping. */
function quoteWord(word: string): string {
    if (word === "") return '""';
    // A lone ";" separates commands on an Exec line; systemd reads "\;" as a literal semicolon.
    if (word === ";") return "\\;";
    if (!NEEDS_QUOTES.test(word)) return word;
    return '"' + word.replace(/[\\"\x00-\x1f\x7f]/g, cEscape) + '"';
}

function escapeSpecifiers(text: string): string {
    return text.replace(/%/g, "%%");
}

/** One argv word for an `Exec*=` line: reaches the program exactly as given. */
export function execWord(word: string): string {
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

/** The value of an `Environment=` line: `"KEY=value"` quoted as one word. */
export function environmentAssignment(key: string, value: string): string {
    return escapeSpecifiers(quoteWord(`${key}=${value}`));
}

/** A free-text value such as `Description=`: one line, specifiers escaped. */
export function textValue(value: string): string {
    return escapeSpecifiers(value.replace(/[\r\n]+/g, " "));
}
