// Ignition: Flatcar's recommended provisioning. It runs once, in the initramfs of the first boot,
// which fits a host that is replaced on every change. The user-data is a small stub; the full config
// lives in the artifact bucket under its content hash, and the stub's `ignition.config.replace`
// names it (`s3://bucket/key`) with its SHA-512, so the host definition's size stops mattering.
// Ignition fetches it with the instance role's credentials (coreos/ignition internal/resource/url.go
// fetchFromS3; docs/operator-notes.md "AWS S3 access"). Its AWS provider does not gunzip user-data,
// so the stub is plain JSON.
import type { Problem } from "../../units/problems";
import { throwIfProblems } from "../../units/problems";
import { userDataSizeProblems } from "../size";
import type { UserDataFormat } from "../types";
import { ignitionBytes, ignitionConfig, ignitionConfigKey, ignitionStub } from "./config";
import { readIgnition } from "./read";
import { validateIgnition } from "./validate";

/** The upload's stable name (its Pulumi resource is named after it). */
export const IGNITION_CONFIG_UPLOAD = "ignition-config";

/**
 * A practical ceiling for the full config, checked at plan time. Neither Ignition (its fetchers read
 * the whole object into memory, with no limit: internal/resource) nor S3 (5 GB per PUT) stops a large
 * config; Pulumi does, in practice: the config is the upload object's `content` input, kept in the
 * stack's state as input and output and sent to the engine on every preview (gRPC messages up to
 * 400 MiB). 4 MiB keeps state and previews quick and is far above a host of a thousand containers.
 */
export const IGNITION_CONFIG_MAX_BYTES = 4 * 1024 * 1024;

export function configSizeProblems(config: Buffer, key: string): Problem[] {
    if (config.length <= IGNITION_CONFIG_MAX_BYTES) return [];
    return [
        {
            code: "IGNITION_CONFIG_TOO_LARGE",
            where: key,
            field: "size",
            message: `the Ignition config is ${config.length} bytes, over this project's ceiling of ${IGNITION_CONFIG_MAX_BYTES} bytes (it is kept in Pulumi's state and sent on every preview)`,
            fix: "move large files into the artifact (artifact/) and mount them, or split the containers across hosts",
        },
    ];
}

export const ignition: UserDataFormat = {
    name: "ignition",
    render(content, target) {
        const config = ignitionBytes(ignitionConfig(content, content.units));
        const key = ignitionConfigKey(config);
        const stub = ignitionBytes(ignitionStub(target.bucket, key, config));
        throwIfProblems(
            [
                ...validateIgnition(config, key),
                ...configSizeProblems(config, key),
                ...validateIgnition(stub),
                ...userDataSizeProblems(stub, "use a shorter bucket name (the stub names it)"),
            ],
            "the rendered Ignition config",
        );
        return {
            format: "ignition",
            bytes: stub,
            encoding: "text",
            uploads: [{ name: IGNITION_CONFIG_UPLOAD, key, content: config.toString("utf8") }],
        };
    },
    read(bytes, uploads) {
        return readIgnition(bytes, uploads);
    },
    validate(bytes) {
        return validateIgnition(bytes);
    },
};

export * from "./config";
export * from "./dataurl";
export * from "./json";
export * from "./read";
export * from "./validate";
