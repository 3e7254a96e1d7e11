// The checks coreos-cloudinit's `-validate` makes, in TypeScript.
import { Problem } from "./problems";

// PLACEHOLDER: issue 3 fills in coreos-cloudinit's rules.
export function validateCloudConfig(_userData: string): Problem[] {
    return [];
}
