// Everything the packer refuses, reported together with the entry it is about.

export type PackErrorCode =
    | "invalid-path" // empty, `.` or empty components, NUL, trailing `/`
    | "absolute-path"
    | "parent-path" // a `..` component
    | "duplicate-path"
    | "path-conflict" // a file where another entry needs a directory
    | "missing-source"
    | "not-a-file" // the source is a directory, device, fifo, socket…
    | "changed-while-packing";

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
                ? `cannot pack [${problems[0]!.archivePath}]: ${problems[0]!.message}`
                : `cannot pack ${problems.length} entries:\n` + problems.map((p) => `  - [${p.archivePath}]: ${p.message}`).join("\n"),
        );
        this.name = "PackError";
        this.code = problems[0]!.code;
    }
}
