// Markdown helpers and the budgeted layout: the summary first, whole; diffs after it, cut to fit.
// Pure: no Pulumi, no I/O.
import { structuredPatch } from "diff";

/** GitHub refuses comments over 65,536 characters; this leaves room for the marker and a heading. */
export const COMMENT_BUDGET = 60_000;
/** A step summary may be up to 1 MiB. */
export const JOB_SUMMARY_BUDGET = 900_000;

/** Inline code that survives a table cell: pipes escaped, backticks fenced. */
export function code(text: string): string {
    const t = text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
    const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((r) => r.length));
    const ticks = "`".repeat(longest + 1);
    return longest > 0 ? `${ticks} ${t} ${ticks}` : `${ticks}${t}${ticks}`;
}

/** A fence longer than any backtick run in the lines. */
export function fenceFor(lines: readonly string[]): string {
    const longest = Math.max(0, ...lines.flatMap((l) => (l.match(/`+/g) ?? []).map((r) => r.length)));
    return "`".repeat(Math.max(3, longest + 1));
}

/** Unified-diff lines (hunk headers and ±/space lines) between two texts, no file headers. */
export function unifiedLines(before: string, after: string, context = 3): string[] {
    const patch = structuredPatch("a", "b", before, after, undefined, undefined, { context });
    return patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
}

/** A whole text as added (`+`) or removed (`-`) lines. */
export function wholeLines(text: string, sign: "+" | "-"): string[] {
    const lines = text.replace(/\n$/, "").split("\n");
    return text === "" ? [] : lines.map((l) => sign + l);
}

/** One diff to show: a heading (Markdown, may be several lines) and the lines of its fenced block. */
export interface DiffBlock {
    readonly heading: string;
    readonly lines: readonly string[];
}

function blockText(b: DiffBlock, lines: readonly string[], note?: string): string {
    const fence = fenceFor(b.lines);
    const body = lines.length > 0 ? `${fence}diff\n${lines.join("\n")}\n${fence}\n` : "";
    return `${b.heading}\n\n${body}${note ? `\n${note}\n` : ""}\n`;
}

/**
 * `head` (the headline and summary) then as many diff blocks as fit in `budget` characters. A block that
 * does not fit is cut with a note saying how many lines are not shown and where to see them; blocks
 * after it are named with their size. The result is never longer than `budget`.
 */
export function layout(
    summary: string,
    blocks: readonly DiffBlock[],
    budget: number,
    seeAlso: string,
): { text: string; truncated: boolean } {
    const head = blocks.length > 0 ? summary.replace(/\n*$/, "\n\n") : summary;
    const notShown = (n: number) => `_… ${n} more line${n === 1 ? "" : "s"} not shown (${seeAlso})._`;
    // Room kept for the last note, so a cut can always say so.
    const reserve = 160 + seeAlso.length;
    const total = head.length + blocks.reduce((n, b) => n + blockText(b, b.lines).length, 0);
    // Cut into the summary only when it alone, with room for the note, does not fit.
    if (head.length > budget || (total > budget && head.length + reserve > budget)) {
        const keep = Math.max(0, budget - reserve);
        const cut = head.lastIndexOf("\n", keep);
        const kept = head.slice(0, cut > 0 ? cut : keep);
        const rest = head.slice(kept.length).split("\n").length + blocks.reduce((n, b) => n + b.lines.length, 0);
        const text = `${kept}\n\n${notShown(rest)}\n`;
        return { text: text.length <= budget ? text : text.slice(0, budget), truncated: true };
    }
    let text = head;
    let truncated = false;
    let i = 0;
    for (; i < blocks.length; i++) {
        const b = blocks[i]!;
        const full = blockText(b, b.lines);
        const later = blocks.length - i - 1;
        if (text.length + full.length + (later > 0 ? reserve : 0) <= budget) {
            text += full;
            continue;
        }
        // Cut this block: as many lines as fit, then the note.
        truncated = true;
        let lo = 0;
        let hi = b.lines.length;
        while (lo < hi) {
            const mid = Math.ceil((lo + hi) / 2);
            const t = blockText(b, b.lines.slice(0, mid), notShown(b.lines.length - mid));
            if (text.length + t.length + reserve <= budget) lo = mid;
            else hi = mid - 1;
        }
        const partial = blockText(b, b.lines.slice(0, lo), notShown(b.lines.length - lo));
        if (text.length + partial.length + reserve <= budget) {
            text += partial;
            i++;
        }
        break;
    }
    const skipped = blocks.slice(i);
    if (skipped.length > 0) {
        truncated = true;
        const n = skipped.reduce((sum, b) => sum + b.lines.length, 0);
        const names = skipped.map((b) => b.heading.split("\n")[0]!.replace(/^#+\s*/, "")).join(", ");
        let note = `_… ${n} more line${n === 1 ? "" : "s"} not shown (${seeAlso}): ${names}._\n`;
        if (text.length + note.length > budget) note = `${notShown(n)}\n`;
        if (text.length + note.length <= budget) text += note;
    }
    return { text, truncated };
}
