// Problems: collected, never thrown one at a time, each with a stable code.
//
// The codes are one string-literal union (as eemeli/yaml's ErrorCode): tests and tools match on the
// code, people read the message. A code is never reused for another meaning; new checks add codes.

/** Every kind of problem the project reports, grouped by where it is found. */
export const PROBLEM_CODES = [
    // The user's host files (hosts/).
    "HOSTS_DIR_MISSING",
    "HOSTS_NONE",
    "HOSTS_MORE_THAN_ONE",
    "HOST_FILE_FAILED",
    "HOST_EXPORT_INVALID",
    "HOST_NAME_INVALID",
    "HOST_NAME_DUPLICATE",
    // Containers and one-shot units (units/validate.ts).
    "CONTAINER_NAME_INVALID",
    "CONTAINER_NAME_NOT_DNS_LABEL",
    "CONTAINER_NAME_DUPLICATE",
    "UNIT_NAME_DUPLICATE",
    "UNIT_NAME_CLASH",
    "IMAGE_KIND_UNKNOWN",
    "IMAGE_REF_UNPINNED",
    "IMAGE_FILE_INVALID",
    "IMAGE_FILE_MISSING",
    "PORT_INVALID",
    "PORT_PROTOCOL_INVALID",
    "PORT_RESERVED",
    "PORT_CLASH",
    "VOLUME_SOURCE_KIND_UNKNOWN",
    "VOLUME_PATH_INVALID",
    "VOLUME_PATH_COLON",
    "VOLUME_TARGET_DUPLICATE",
    "ARTIFACT_FILE_MISSING",
    "DATA_PATH_INVALID",
    "DATA_OWNER_INVALID",
    "DATA_PATH_SHARED",
    "DATA_VOLUME_MISSING",
    "DATA_VOLUME_ID_INVALID",
    "ENV_NAME_INVALID",
    "VALUE_NOT_STRING",
    "VALUE_HAS_NUL",
    "RESTART_POLICY_INVALID",
    "SECONDS_INVALID",
    "EXTRA_ARG_MANAGED",
    "CONTAINER_AWS_ACCESS_UNSUPPORTED",
    // Secrets a container takes (secretEnv, secretFiles) and the stack's values for them (units/secrets.ts).
    "SECRET_NAME_INVALID",
    "SECRET_ENV_CLASH",
    "SECRET_FILE_ENCODING_INVALID",
    "SECRET_FILE_OWNER_INVALID",
    "SECRET_NOT_SET",
    "SECRET_VALUE_EMPTY",
    "SECRET_VALUE_TOO_LARGE",
    "SECRET_VALUE_UNENCODABLE",
    "SECRET_VALUE_MULTILINE",
    "SECRET_VALUE_QUOTED",
    "SECRET_VALUE_NOT_BASE64",
    // Who may reach a published port (expose).
    "EXPOSURE_INVALID",
    "EXPOSURE_CIDR_INVALID",
    "EXPOSURE_CIDR_OPEN_TO_WORLD",
    "EXPOSURE_CIDR_HOST_BITS",
    "SECURITY_GROUP_RULE_LIMIT",
    "HEALTH_CHECK_INVALID",
    "HEALTH_COMMAND_INVALID",
    "HEALTH_RETRIES_INVALID",
    "HEALTH_WAIT_TOO_SHORT",
    "DEPENDENCY_SELF",
    "DEPENDENCY_UNKNOWN",
    "DEPENDENCY_DUPLICATE",
    "DEPENDENCY_CYCLE",
    "DEPENDENCY_CYCLES_TRUNCATED",
    "UNIT_REQUIRES_UNDEFINED",
    "ONESHOT_NAME_INVALID",
    "ONESHOT_NOT_SERVICE",
    "ONESHOT_TEMPLATE",
    "ONESHOT_NO_EXEC",
    "EXEC_NOT_ABSOLUTE",
    "UNIT_REFERENCE_INVALID",
    "FILE_PATH_INVALID",
    "FILE_UNDER_USR",
    "FILE_PERMISSIONS_INVALID",
    "FILE_OWNER_INVALID",
    "FILE_PATH_DUPLICATE",
    // The host's ceilings (units/ceilings.ts).
    "HOST_TOO_MANY_CONTAINERS",
    // The rendered user-data.
    "USER_DATA_ROUND_TRIP",
    "USER_DATA_TOO_LARGE",
    "USER_DATA_TOO_LARGE_COMPRESSED",
    "USER_DATA_GZIP_INVALID",
    // coreos-cloudinit's `-validate` rules (units/cloudinit.ts), one code per rule.
    "CLOUDINIT_HEADER",
    "CLOUDINIT_CONTROL_CHARACTER",
    "CLOUDINIT_LINE_BREAK_CHARACTER",
    "CLOUDINIT_YAML_SYNTAX",
    "CLOUDINIT_NOT_A_MAP",
    "CLOUDINIT_DISCOVERY_URL",
    "CLOUDINIT_ENCODING",
    "CLOUDINIT_UNKNOWN_KEY",
    "CLOUDINIT_WRONG_TYPE",
    "CLOUDINIT_DEPRECATED_KEY",
    "CLOUDINIT_INVALID_VALUE",
    "CLOUDINIT_READ_ONLY_PATH",
    "CLOUDINIT_WRITE_FILES_UNDER_COREOS",
    "CLOUDINIT_PERMISSIONS_UNQUOTED",
    // The Ignition config and stub (formats/ignition/): ignition-validate's rules, and its ceilings.
    "IGNITION_CONFIG_INVALID",
    "IGNITION_REFERENCE_INVALID",
    "IGNITION_UNIT_INVALID",
    "IGNITION_UNIT_LINE_TOO_LONG",
    "IGNITION_FILE_INVALID",
    "IGNITION_CONFIG_TOO_LARGE",
    // Stack config (config.ts).
    "CONFIG_UNKNOWN_KEY",
    "CONFIG_SECRET_NOT_ALLOWED",
    "CONFIG_NOT_JSON",
    "CONFIG_WRONG_TYPE",
    "CONFIG_INVALID_VALUE",
    "CONFIG_UNKNOWN_CONTAINER",
    "CONFIG_REGION_MISSING",
    "CONFIG_CIDR_OPEN_TO_WORLD",
    "CONFIG_CIDR_HOST_BITS",
    "CONFIG_SECRETS_NOT_SECRET",
    "CONFIG_SECRET_UNUSED",
    "CONFIG_UNKNOWN_PORT",
    "CONFIG_DATA_VOLUME_IOPS_TOO_HIGH",
    "CONFIG_DATA_VOLUME_THROUGHPUT_TOO_HIGH",
    "CONFIG_AVAILABILITY_ZONE_NOT_IN_REGION",
    "CONFIG_AVAILABILITY_ZONE_MISSING",
    "CONFIG_DATA_VOLUME_DISABLED",
    // The artifact packer (packing/).
    "PACK_INVALID_PATH",
    "PACK_ABSOLUTE_PATH",
    "PACK_PARENT_PATH",
    "PACK_DUPLICATE_PATH",
    "PACK_PATH_CONFLICT",
    "PACK_MISSING_SOURCE",
    "PACK_NOT_A_FILE",
    "PACK_CHANGED_WHILE_PACKING",
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** One thing wrong with a definition or with the config, and how to fix it. */
export interface Problem {
    readonly code: ProblemCode;
    /** What the problem is in: a unit (`docker-fluentd.service`), a container (`fluentd`), a file, or a config key. */
    readonly where: string;
    /** The field, e.g. `ports[0].host` or `env.MY-VAR`. */
    readonly field: string;
    readonly message: string;
    /** What to change, in one sentence. */
    readonly fix: string;
}

/** One printed line: `[CODE] where: field: message — fix: fix`. */
export function formatProblem(p: Problem): string {
    return `[${p.code}] ${p.where}: ${p.field}: ${p.message} — fix: ${p.fix}`;
}

/** All the problems found, reported together. */
export class ValidationError extends Error {
    constructor(
        readonly problems: readonly Problem[],
        what = "the host definition",
    ) {
        super(
            `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${what}:\n` +
                problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
        );
        this.name = "ValidationError";
    }
}

/** Throw a {@link ValidationError} if there is anything to report. */
export function throwIfProblems(problems: readonly Problem[], what?: string): void {
    if (problems.length > 0) throw new ValidationError(problems, what);
}
