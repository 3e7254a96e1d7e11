// The typed model of what runs on the host. Plain readonly data: no Pulumi, no I/O.
//
// A host is a set of container units (one Docker container each, run by systemd), one-shot units
// (provisioning, network setup) and plain files written by cloud-config. Renderers in this folder
// turn it into systemd unit text and a cloud-config document.

/** Where a container's image comes from. */
export type ImageSource = RegistryImage | TarballImage;

/** An image pulled from a registry. The tag must be pinned, e.g. `docker.elastic.co/kibana/kibana:8.15.3`. */
export interface RegistryImage {
    readonly kind: "registry";
    /** Full reference with a pinned tag or digest, e.g. `nginx:1.27.2-alpine`. */
    readonly ref: string;
}

/**
 * An image built elsewhere (CI's `docker build` + `docker save`) and shipped inside the artifact.
 * The unit `docker load`s it (only when `ref` is not already present) before it runs.
 */
export interface TarballImage {
    readonly kind: "tarball";
    /** The tarball's file name, relative to the stack's image directory, e.g. `fluentd.tar`. */
    readonly file: string;
    /** The reference the tarball carries (what `docker load` tags it as), e.g. `coreos-containers/fluentd:1.17.1`. */
    readonly ref: string;
}

/**
 * Who may reach a published port:
 * - `"internet"`: anyone (a security-group rule from 0.0.0.0/0);
 * - a list of IPv4 CIDRs, e.g. `["10.0.0.0/16"]`: only those (one rule per CIDR); an empty list, the
 *   default, publishes the port on the host's interfaces but lets nobody in through the security group
 *   until a stack names CIDRs (`coreos-containers:containers.<name>.expose`);
 * - `"host"`: processes on the host only: bound to 127.0.0.1, no security-group rule.
 */
export type Exposure = "internet" | "host" | readonly string[];

/** One published port: `-p [127.0.0.1:]host:container/protocol`. */
export interface PortMapping {
    /** Port on the host, e.g. `24224`. */
    readonly host: number;
    /** Port inside the container, e.g. `24224`. */
    readonly container: number;
    /** Defaults to `tcp`. */
    readonly protocol?: "tcp" | "udp";
    /** Who may reach it, e.g. `"internet"` for a web server; defaults to `[]` (named CIDRs, none until a stack adds some). */
    readonly expose?: Exposure;
}

/** The source of a bind mount. */
export type VolumeSource =
    /** An absolute path on the host, e.g. `/var/lib/docker/containers`. */
    | { readonly kind: "host"; readonly path: string }
    /** A file or folder inside the artifact, relative to its root, e.g. `log/fluent.conf`. */
    | { readonly kind: "artifact"; readonly path: string }
    /**
     * A folder of the host's persistent data disk (an EBS volume that moves from the old host to the new
     * one on replacement), relative to the disk's root, e.g. `elastic`. The container starts only once the
     * disk is mounted; the folder is created at each start, owned by `owner` (default root).
     */
    | DataSource;

/** A folder of the persistent data disk, e.g. `{ kind: "data", path: "elastic", owner: { uid: 1000, gid: 0 } }`. */
export interface DataSource {
    readonly kind: "data";
    /** Relative to the data disk's root, no `..`, no empty segment, no leading `/`, e.g. `prometheus`. */
    readonly path: string;
    /** Numeric owner of the folder as the container's process sees it, e.g. `{ uid: 65534, gid: 65534 }` for Prometheus (`USER nobody`). Defaults to root. */
    readonly owner?: { readonly uid: number; readonly gid: number };
}

/** One bind mount: `-v SOURCE:TARGET[:ro]`. */
export interface VolumeMount {
    readonly source: VolumeSource;
    /** Absolute path inside the container, e.g. `/fluentd/etc/fluent.conf`. */
    readonly target: string;
    /** Mount read-only. Defaults to `false`. */
    readonly readOnly?: boolean;
}

/**
 * A secret delivered into the container as a read-only file, for values that are multi-line or
 * binary (a TLS key, a JSON credential). The value comes from the stack's
 * `coreos-containers:secrets.<secret>` and reaches the host only at boot (SSM Parameter Store).
 */
export interface SecretFile {
    /** The secret's name in the stack config, e.g. `tls-key`. */
    readonly secret: string;
    /** Absolute path inside the container, e.g. `/run/secrets/tls.key`. */
    readonly target: string;
    /** `base64`: the stored value is base64 and the file gets the decoded bytes (binary). Defaults to `utf8` (the text as is). */
    readonly encoding?: "utf8" | "base64";
    /** Owner of the file (numeric, as the container's process sees it), e.g. `472` for Grafana. Defaults to 0 (root); mode is 0400. */
    readonly uid?: number;
    /** Group of the file, numeric. Defaults to 0. */
    readonly gid?: number;
}

/**
 * A Docker health check: `docker run --health-cmd … --health-interval …`. Docker runs `command` inside
 * the container as `/bin/sh -c COMMAND` (its `--health-cmd` is always the CMD-SHELL form; an exec-form
 * array cannot be given on the command line), so it is ONE shell command line, using only what the
 * image ships (curl, BusyBox wget, ruby…), that exits 0 when the container works.
 *
 * With a health check the container's unit counts as started only once Docker reports it `healthy`:
 * its dependents start then, not when `docker run` is forked. All times are whole seconds.
 */
export interface HealthCheck {
    /** One shell command, e.g. `wget -q -O /dev/null http://127.0.0.1:9090/-/ready`. Exit 0 = healthy. */
    readonly command: string;
    /** Seconds between checks once the start period is over (`--health-interval`). Defaults to 10. */
    readonly intervalSec?: number;
    /** Seconds one check may take before it counts as failed (`--health-timeout`). Defaults to 5. */
    readonly timeoutSec?: number;
    /** Failed checks in a row, after the start period, that make the container `unhealthy` (`--health-retries`). Defaults to 3. */
    readonly retries?: number;
    /** Seconds after start during which failed checks do not count (`--health-start-period`), e.g. `120` for Elasticsearch. Defaults to 30. */
    readonly startPeriodSec?: number;
    /** Seconds between checks during the start period (`--health-start-interval`, Docker 25+). Defaults to 2. */
    readonly startIntervalSec?: number;
    /**
     * How long the unit waits for `healthy` before it fails, e.g. `300`. Defaults to
     * startPeriodSec + retries × (intervalSec + timeoutSec) + 30: the time Docker needs to call it unhealthy, and a margin.
     */
    readonly waitSec?: number;
}

/** systemd's `Restart=` values that make sense for a container. */
export type RestartPolicy = "always" | "on-failure" | "no";

/** A Docker container run by its own systemd unit, `docker-<name>.service`. */
export interface ContainerUnit {
    readonly kind: "container";
    /** Container name, also its DNS name on the host's Docker network, e.g. `elastic`. */
    readonly name: string;
    /** One line for `Description=`, e.g. `Elasticsearch`. */
    readonly description?: string;
    readonly image: ImageSource;
    readonly ports?: readonly PortMapping[];
    readonly volumes?: readonly VolumeMount[];
    /** Environment passed with `-e KEY=VALUE`, emitted sorted by key. Written into the user-data: never a secret. */
    readonly env?: Readonly<Record<string, string>>;
    /**
     * Environment whose values are secrets, by the secret's name in the stack config, e.g.
     * `{ GF_SECURITY_ADMIN_PASSWORD: "grafana-admin" }`. Fetched at boot into a root-only env file on
     * tmpfs (`--env-file`); never in the user-data, the unit or `docker run`'s command line. A value
     * must be one line.
     */
    readonly secretEnv?: Readonly<Record<string, string>>;
    /** Secrets mounted read-only as files, e.g. `[{ secret: "tls-key", target: "/run/secrets/tls.key" }]`. */
    readonly secretFiles?: readonly SecretFile[];
    /**
     * Let the container use the AWS API with the host's role. Not supported: containers cannot reach the
     * instance metadata service (hop limit 1), and the host's role reads every secret of the host.
     * Setting it is reported with a problem that says what to do instead.
     */
    readonly awsAccess?: boolean;
    /**
     * Containers that must be up first (by reference). This one starts only once each of them is
     * active, which for a container with a health check means healthy (`Wants=` + `After=` their units,
     * and a start-time check); it keeps running when one of them crashes and restarts.
     */
    readonly dependsOn?: readonly ContainerUnit[];
    /** How Docker checks that the container works; its dependents wait for `healthy`. None: started = forked. */
    readonly healthCheck?: HealthCheck;
    /** Defaults to `always`. */
    readonly restart?: RestartPolicy;
    /** Seconds between restarts. Defaults to 5. */
    readonly restartSec?: number;
    /** Seconds `docker stop -t` waits before killing. Defaults to 2, as in the seed. */
    readonly stopTimeoutSec?: number;
    /** Extra `docker run` arguments, each one argv word, e.g. `["--ulimit", "nofile=65536:65536"]`. */
    readonly extraArgs?: readonly string[];
    /** Arguments after the image (the container's command), each one argv word. */
    readonly command?: readonly string[];
}

/** A `Type=oneshot` unit, e.g. provisioning or creating the Docker network. */
export interface OneShotUnit {
    readonly kind: "oneshot";
    /** Full unit name, e.g. `provision.service`. */
    readonly name: string;
    readonly description: string;
    /** `ExecStart=` commands in order, each an argv array with an absolute executable. */
    readonly exec: readonly (readonly string[])[];
    /** Units this one `Requires=` and orders itself `After=`, e.g. `docker.service`. */
    readonly requires?: readonly string[];
    /** Units this one `Wants=` and orders itself `After=`, e.g. `network-online.target`. */
    readonly wants?: readonly string[];
    /** Environment for the commands (`Environment=`), emitted sorted by key. */
    readonly environment?: Readonly<Record<string, string>>;
    /** Seconds before systemd gives up on the unit (`TimeoutStartSec=`). */
    readonly timeoutStartSec?: number;
    /**
     * Listed after the containers in the user-data, so coreos-cloudinit starts it last: it waits for each
     * job it starts, and a unit that waits for the containers must not be started before them.
     */
    readonly startAfterContainers?: boolean;
}

/** A file written by cloud-config's `write_files`. */
export interface WriteFile {
    /** Absolute path on the host, e.g. `/opt/coreos-containers/bin/image-cleanup`. */
    readonly path: string;
    /** Octal mode as a string, e.g. `"0755"`. */
    readonly permissions: string;
    /** `user:group`, defaults to `root:root`. */
    readonly owner?: string;
    readonly content: string;
}

export type Unit = ContainerUnit | OneShotUnit;

/**
 * One host as its owner describes it: a name and the containers it runs. The user's hosts live in
 * `hosts/`, one file each, whose default export is a HostSpec; the library never imports them.
 */
export interface HostSpec {
    /** The host's name, a lower-case DNS label, e.g. `main`. */
    readonly name: string;
    /** One line about what the host is for, e.g. `logs and metrics for the shop`. */
    readonly description?: string;
    /** Its containers, in declaration order (the start order among containers that are ready). */
    readonly containers: readonly ContainerUnit[];
}

/** Everything the host runs: the input to validation and rendering. */
export interface HostDefinition {
    readonly containers: readonly ContainerUnit[];
    readonly oneshots: readonly OneShotUnit[];
    readonly files: readonly WriteFile[];
    /** Public SSH keys for the `core` user. */
    readonly sshAuthorizedKeys: readonly string[];
    /** The persistent data disk the containers' `data` mounts use: present only when one does. */
    readonly dataVolume?: DataVolume;
}

/** The host's persistent data disk: an EBS volume the host attaches itself at boot. */
export interface DataVolume {
    /** The EBS volume id, `vol-` and 17 hex digits, e.g. `vol-0123456789abcdef0`. */
    readonly volumeId: string;
}
