// Everything the packer refuses, reported together with the entry it is about.
import type { ProblemCode } from "../units/problems";

/**
 * The packer's codes, part of the project's one list (units/problems.ts): `PACK_INVALID_PATH` (empty,
 * `.` or empty components, NUL, trailing `/`), `PACK_ABSOLUTE_PATH`, `PACK_PARENT_PATH` (a `..`
 * component), `PACK_DUPLICATE_PATH`, `PACK_PATH_CONFLICT` (a file where another entry needs a
 * directory), `PACK_MISSING_SOURCE`, `PACK_NOT_A_FILE` (a directory, device, fifo, socket…),
 * `PACK_CHANGED_WHILE_PACKING`.
 */
export type PackErrorCode = Extract<ProblemCode, `PACK_${string}`>;

export interface PackProblem {
    readonly code: PackErrorCode;
    /** The entry's archive path, e.g. `images/app.tar`. */
    readonly archivePath: string;
    readonly message: string;
}

export class PackError extends Error {
    readonly code: PackErrorCode;
    constructor(readonly problems: readonly PackProblem[]) {
        super(
            problems.length === 1
                ? `cannot pack [${problems[0]!.archivePath}]: ${problems[0]!.message} [${problems[0]!.code}]`
                : `cannot pack ${problems.length} entries:\n` +
                      problems.map((p) => `  - [${p.archivePath}]: ${p.message} [${p.code}]`).join("\n"),
        );
        this.name = "PackError";
        this.code = problems[0]!.code;
    }
}
