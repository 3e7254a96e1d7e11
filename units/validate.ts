// Checks a host definition before anything is rendered. Every problem is collected.
import { HostDefinition } from "./model";
import { Problem } from "./problems";

/** The file checks validation needs, passed in so validation stays free of I/O. */
export interface FileChecks {
    /** Does this artifact-relative path exist in the artifact's source folder? */
    artifactFileExists(relativePath: string): boolean;
    /** Does this image tarball exist in the stack's image folder? */
    imageFileExists(file: string): boolean;
}

// PLACEHOLDER: issue 3 fills in every check.
export function validateHost(_host: HostDefinition, _files: FileChecks): Problem[] {
    return [];
}
