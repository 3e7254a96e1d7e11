// How the program stops on bad input: every problem, one line each, and no stack trace.
import * as pulumi from "@pulumi/pulumi";
import { Problem, formatProblem } from "../units/problems";

/**
 * The host definitions or the stack config cannot be deployed. A `pulumi.RunError`, which the
 * Pulumi CLI prints as its message alone, without the program's stack trace; `npm start` likewise.
 */
export class PlanProblems extends pulumi.RunError {
    constructor(readonly problems: readonly Problem[]) {
        super(
            `${problems.length} problem${problems.length === 1 ? "" : "s"} in this stack's hosts and config; nothing was deployed:\n` +
                problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
        );
        this.name = "PlanProblems";
    }
}
