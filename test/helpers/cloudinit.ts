// coreos-cloudinit's findings as the tests compare them.
import { cloudConfigFindings } from "../../formats/cloudconfig/validate";
import type { ProblemCode } from "../../units/problems";

/** Each finding (only those with `code`, when given) as `line N: level: message [path]`: the way `coreos-cloudinit -validate` prints them, plus our path. */
export function findingLines(userData: string, code?: ProblemCode): string[] {
    return cloudConfigFindings(userData)
        .filter((f) => code === undefined || f.code === code)
        .map((f) => `line ${f.line}: ${f.level}: ${f.message} [${f.path}]`);
}
