// Validation problems: collected, never thrown one at a time.

/** One thing wrong with a definition or with the config, and how to fix it. */
export interface Problem {
    /** What the problem is in: a unit (`docker-fluentd.service`), a container (`fluentd`), a file, or a config key. */
    readonly where: string;
    /** The field, e.g. `ports[0].host` or `env.MY-VAR`. */
    readonly field: string;
    readonly message: string;
    /** What to change, in one sentence. */
    readonly fix: string;
}

export function formatProblem(p: Problem): string {
    return `${p.where}: ${p.field}: ${p.message} — fix: ${p.fix}`;
}

/** All the problems found, reported together. */
export class ValidationError extends Error {
    constructor(readonly problems: readonly Problem[], what = "the host definition") {
        super(`${problems.length} problem${problems.length === 1 ? "" : "s"} in ${what}:\n` + problems.map((p) => `  - ${formatProblem(p)}`).join("\n"));
        this.name = "ValidationError";
    }
}

/** Throw a {@link ValidationError} if there is anything to report. */
export function throwIfProblems(problems: readonly Problem[], what?: string): void {
    if (problems.length > 0) throw new ValidationError(problems, what);
}
