// Secrets: which containers need which of the stack's secret values, the checks on those values, and
// what the host gets to fetch them at boot (a manifest of parameter names and versions, and the unit
// that runs host-scripts/secrets.sh). Pure: values come in as data and never leave in any output;
// a problem names the secret and the container, never the value.
//
// Delivery, and why each rule below exists:
// - env: one root-only env file per container, read by `docker run --env-file`. Docker's CLI splits
//   that file into lines with Go's bufio.Scanner (which also drops a `\r` before each `\n`) and takes
//   KEY=VALUE with the value as is (docker/cli pkg/kvfile/kvfile.go, formerly opts/file.go:
//   "pass the value through, no trimming"). So a value cannot hold a line break. Open pull requests
//   would strip one pair of matching outer quotes (docker/cli#6046, #6805, for issue #3630), so a
//   value that starts and ends with the same quote is refused too: it would change under a newer CLI.
// - files: the exact bytes of the value (or of its base64 decoding), mode 0400, owned by uid:gid.
// - SSM's Standard tier holds values up to 4,096 characters ("Standard tier parameters support a
//   maximum parameter value of 4096 characters", PutParameter's ValidationException); counted here
//   in UTF-8 bytes, which is never fewer.
import { ContainerUnit, OneShotUnit, WriteFile } from "./model";
import { BIN_DIR, SECRETS_DIR, SECRETS_MANIFEST, SECRETS_UNIT, secretEnvFile, secretFilePath } from "./layout";
import { Problem, ProblemCode } from "./problems";

/** A secret's name in the stack config (`coreos-containers:secrets.<name>`) and in its parameter's name. */
export const SECRET_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$/;

/** SSM Parameter Store's Standard tier: the largest value, here in UTF-8 bytes. */
export const SECRET_VALUE_LIMIT = 4096;

export const SECRETS_SCRIPT = `${BIN_DIR}/secrets`;

/** How long the secrets script keeps retrying (credentials not there yet, 5xx, throttling) before it fails the unit. */
export const SECRETS_RETRY_SECONDS = 600;

/** The SSM parameter that holds a secret, as the host asks for it. */
export interface SecretParameter {
    /** e.g. `/coreos-containers/prod/grafana-admin`. */
    readonly name: string;
    /** The parameter's version (a new value is a new version), e.g. `3`. */
    readonly version: number;
}

/** Secret name → its parameter. */
export type SecretParameters = Readonly<Record<string, SecretParameter>>;

/** The parameter name of a secret: one path per project and stack, e.g. `/coreos-containers/prod/grafana-admin`. */
export function secretParameterName(project: string, stack: string, secret: string): string {
    return `/${project}/${stack}/${secret}`;
}

/** One place a container takes a secret. */
export interface SecretUse {
    readonly container: string;
    readonly secret: string;
    /** The definition's field, e.g. `secretEnv["GF_SECURITY_ADMIN_PASSWORD"]` or `secretFiles[0]`. */
    readonly field: string;
    readonly kind: "env" | "file";
    readonly base64: boolean;
}

/** Does this container need the secrets unit before it starts? */
export function usesSecrets(c: ContainerUnit): boolean {
    return Object.keys(c.secretEnv ?? {}).length > 0 || (c.secretFiles ?? []).length > 0;
}

/** Every use of a secret, containers in order, env sorted by variable, then files in order. */
export function secretUses(containers: readonly ContainerUnit[]): SecretUse[] {
    return containers.flatMap((c) => [
        ...Object.keys(c.secretEnv ?? {})
            .sort()
            .map((k): SecretUse => ({
                container: c.name,
                secret: c.secretEnv![k]!,
                field: `secretEnv[${JSON.stringify(k)}]`,
                kind: "env",
                base64: false,
            })),
        ...(c.secretFiles ?? []).map((f, i): SecretUse => ({
            container: c.name,
            secret: f.secret,
            field: `secretFiles[${i}]`,
            kind: "file",
            base64: f.encoding === "base64",
        })),
    ]);
}

/** Secret name → the containers that use it, both sorted. */
export function secretUsers(containers: readonly ContainerUnit[]): Record<string, string[]> {
    const users: Record<string, Set<string>> = {};
    for (const u of secretUses(containers)) (users[u.secret] ??= new Set()).add(u.container);
    return Object.fromEntries(
        Object.keys(users)
            .sort()
            .map((s) => [s, [...users[s]!].sort()]),
    );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a value for one use, without ever quoting it. */
function valueProblem(value: string, use: SecretUse): { code: ProblemCode; message: string; fix: string } | undefined {
    const pipe = `pulumi config set --secret --path 'coreos-containers:secrets.${use.secret}' < FILE`;
    if (value === "") return { code: "SECRET_VALUE_EMPTY", message: "the value is empty", fix: `set a value: ${pipe}` };
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > SECRET_VALUE_LIMIT)
        return {
            code: "SECRET_VALUE_TOO_LARGE",
            message: `the value is ${bytes} bytes; an SSM Standard-tier parameter holds at most ${SECRET_VALUE_LIMIT}`,
            fix: "store a smaller value, e.g. a key rather than a whole bundle",
        };
    if (value.includes("\0") || LONE_SURROGATE.test(value))
        return {
            code: "SECRET_VALUE_UNENCODABLE",
            message: "the value holds a NUL character or a lone UTF-16 surrogate, which cannot travel as text",
            fix: `store it base64-encoded and deliver it as a file with encoding: "base64"`,
        };
    if (use.kind === "env" && /[\r\n]/.test(value))
        return {
            code: "SECRET_VALUE_MULTILINE",
            message: "the value has a line break, which an env file (one KEY=VALUE per line) cannot carry",
            fix: "deliver it as a file (secretFiles) instead of through secretEnv",
        };
    if (use.kind === "env" && value.length >= 2 && (value[0] === '"' || value[0] === "'") && value[0] === value[value.length - 1])
        return {
            code: "SECRET_VALUE_QUOTED",
            message:
                "the value starts and ends with the same quote character; Docker CLIs that strip such quotes from env files (docker/cli#3630) would pass it changed",
            fix: "deliver it as a file (secretFiles), or store it without the enclosing quotes",
        };
    if (use.base64 && !BASE64.test(value))
        return {
            code: "SECRET_VALUE_NOT_BASE64",
            message:
                'the file is declared encoding: "base64", but the value is not base64 (A-Z a-z 0-9 + / with = padding, no line breaks)',
            fix: `store the base64 text, e.g. base64 -w0 FILE | ${pipe.replace(" < FILE", "")}`,
        };
    return undefined;
}

/**
 * Every problem with the stack's secret values for these containers: a secret a container needs that
 * the stack does not set, a value that cannot be delivered the way it is used, and a secret the stack
 * sets that no container uses. Messages name secrets and containers, never values.
 */
export function secretValueProblems(containers: readonly ContainerUnit[], values: Readonly<Record<string, string>>): Problem[] {
    const problems: Problem[] = [];
    const uses = secretUses(containers).filter((u) => typeof u.secret === "string" && SECRET_NAME.test(u.secret));
    for (const use of uses) {
        const value = Object.hasOwn(values, use.secret) ? values[use.secret] : undefined;
        if (value === undefined) {
            problems.push({
                code: "SECRET_NOT_SET",
                where: use.container,
                field: use.field,
                message: `needs the secret ${JSON.stringify(use.secret)}, which this stack does not set`,
                fix: `pulumi config set --secret --path 'coreos-containers:secrets.${use.secret}' (it prompts for the value; or pipe it in: < FILE)`,
            });
            continue;
        }
        const p = valueProblem(value, use);
        if (p)
            problems.push({
                code: p.code,
                where: use.container,
                field: use.field,
                message: `secret ${JSON.stringify(use.secret)}: ${p.message}`,
                fix: p.fix,
            });
    }
    const used = new Set(uses.map((u) => u.secret));
    for (const name of Object.keys(values).sort()) {
        if (!used.has(name))
            problems.push({
                code: "CONFIG_SECRET_UNUSED",
                where: "config",
                field: `coreos-containers:secrets.${name}`,
                message: `no container uses the secret ${JSON.stringify(name)}; it would be stored for nothing`,
                fix: `use it in a container's secretEnv or secretFiles, or remove it: pulumi config rm --path 'coreos-containers:secrets.${name}'`,
            });
    }
    return problems;
}

// ---------------------------------------------------------------------------------------------
// What the host gets

/** `name:version`, the selector GetParameters takes for one version of a parameter. */
export function parameterSelector(p: SecretParameter): string {
    return `${p.name}:${p.version}`;
}

const sortedKeys = <T>(o: Readonly<Record<string, T>>): Record<string, T> =>
    Object.fromEntries(
        Object.keys(o)
            .sort()
            .map((k) => [k, o[k]!]),
    );

/**
 * The manifest the secrets script reads: the region, the parameters to fetch (`name:version`, sorted),
 * each container's env file (variable → parameter) and each secret file (path, parameter, encoding,
 * owner). Paths are relative to SECRETS_DIR. Names and versions only: no value, no hash of one.
 */
export function secretsManifest(containers: readonly ContainerUnit[], parameters: SecretParameters, region: string): string {
    // A name validation refuses (SECRET_NAME_INVALID) is left out: nothing is rendered from a bad definition anyway.
    const valid = (secret: unknown): secret is string => typeof secret === "string" && SECRET_NAME.test(secret);
    const selector = (secret: string): string => {
        const p = Object.hasOwn(parameters, secret) ? parameters[secret] : undefined;
        if (!p)
            throw new Error(
                `secretsManifest: no SSM parameter for secret ${JSON.stringify(secret)}; pass one for every secret the containers take`,
            );
        return parameterSelector(p);
    };
    const rel = (p: string) => p.slice(SECRETS_DIR.length + 1);
    const env: Record<string, Record<string, string>> = {};
    const files: { path: string; parameter: string; base64: boolean; uid: number; gid: number }[] = [];
    for (const c of containers) {
        const vars = Object.entries(c.secretEnv ?? {}).filter(([, s]) => valid(s));
        if (vars.length > 0) env[rel(secretEnvFile(c.name))] = sortedKeys(Object.fromEntries(vars.map(([k, s]) => [k, selector(s)])));
        (c.secretFiles ?? []).forEach((f, i) => {
            if (valid(f.secret))
                files.push({
                    path: rel(secretFilePath(c.name, i, f.secret)),
                    parameter: selector(f.secret),
                    base64: f.encoding === "base64",
                    uid: f.uid ?? 0,
                    gid: f.gid ?? 0,
                });
        });
    }
    const selectors = [...new Set([...Object.values(env).flatMap((e) => Object.values(e)), ...files.map((f) => f.parameter)])].sort();
    // JSON with one parameter, env file or secret file per line: a new version reads as a one-line diff.
    const j = (v: unknown) => JSON.stringify(v);
    const lines = (items: readonly string[], open: string, close: string) =>
        items.length ? `${open}\n${items.map((i) => `  ${i}`).join(",\n")}\n ${close}` : `${open}${close}`;
    const envFiles = Object.keys(env).sort();
    return [
        "{",
        ` "region": ${j(region)},`,
        ` "parameters": ${lines(selectors.map(j), "[", "]")},`,
        ` "env": ${lines(
            envFiles.map((f) => `${j(f)}: ${j(sortedKeys(env[f]!))}`),
            "{",
            "}",
        )},`,
        ` "files": ${lines(files.map(j), "[", "]")}`,
        "}",
        "",
    ].join("\n");
}

/** The manifest as a file of the user-data: root-only (it names parameters, no values). */
export function secretsManifestFile(containers: readonly ContainerUnit[], parameters: SecretParameters, region: string): WriteFile {
    return { path: SECRETS_MANIFEST, permissions: "0600", owner: "root:root", content: secretsManifest(containers, parameters, region) };
}

/** The unit that runs the secrets script at every boot, before the containers that need it. */
export function secretsUnit(): OneShotUnit {
    return {
        kind: "oneshot",
        name: SECRETS_UNIT,
        description: "Fetch this host's secrets from SSM Parameter Store into /run",
        wants: ["network-online.target"],
        environment: {
            SECRETS_DIR,
            SECRETS_MANIFEST,
            SECRETS_MAX_SECONDS: String(SECRETS_RETRY_SECONDS),
        },
        exec: [[SECRETS_SCRIPT]],
        timeoutStartSec: SECRETS_RETRY_SECONDS + 300,
    };
}
