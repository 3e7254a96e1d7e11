import { strict as assert } from "node:assert";
import { stackFileConfig } from "../scripts/stackFiles";

describe("stack files (Pulumi.yaml defaults under Pulumi.<stack>.yaml)", () => {
    const project =
        "name: demo\nconfig:\n  size:\n    type: integer\n    default: 30\n  channel:\n    type: string\n    default: stable\n  noDefault:\n    type: string\n";

    it("qualifies project keys, lets the stack file win, and keeps other namespaces as written", () => {
        const stack =
            "config:\n  demo:size: 100\n  aws:region: eu-west-1\n  demo:tags:\n    team: ops\n  demo:password:\n    secure: v1:abc\n";
        assert.deepEqual(stackFileConfig(project, stack), {
            "demo:size": { value: 100, source: "stack" },
            "demo:channel": { value: "stable", source: "default" },
            "aws:region": { value: "eu-west-1", source: "stack" },
            "demo:tags": { value: { team: "ops" }, source: "stack" },
            "demo:password": { value: { secure: "v1:abc" }, source: "stack" },
        });
    });

    it("gives only the defaults when the stack has no file", () => {
        assert.deepEqual(Object.keys(stackFileConfig(project, undefined)), ["demo:size", "demo:channel"]);
    });
});
