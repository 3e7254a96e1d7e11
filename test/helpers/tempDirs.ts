// Temporary folders for one test file: made in a root `before`, removed with everything in them in `after`.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Registers the test file's temp folder (under the OS temp dir, named `<prefix>…`) and returns `fresh`:
 * each call makes a new folder under it, e.g. `fresh("a/b")` → `<tmp>/3/a/b`.
 */
export function tempDirs(prefix: string): (sub?: string) => string {
    let tmp: string | undefined;
    let count = 0;
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    });
    after(() => {
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });
    return (sub = "") => {
        if (!tmp) throw new Error("tempDirs: fresh() called before the test file's before hook ran");
        const d = path.join(tmp, String(count++), sub);
        fs.mkdirSync(d, { recursive: true });
        return d;
    };
}
