// Booting real systemd (systemd-nspawn) on a throw-away copy of this machine's root, with a host's
// rendered user-data applied the way coreos-cloudinit applies it on Flatcar.
//
// The throw-away root: an overlayfs whose lower layer is `/` (read-only to the overlay) and whose upper
// and work directories live on a tmpfs mounted in a temp dir (overlayfs refuses an upper directory that
// lies inside its lower layer's filesystem tree, and a tmpfs also means nothing the boot writes reaches
// a disk). Writes by the test and by the booted system land in the tmpfs; `/` is never written.
// Disposal: stop the container, unmount the overlay, unmount the tmpfs, remove the temp dir, and remove
// what systemd-nspawn itself left on the real host (empty `payload`/`supervisor` cgroups, the empty
// /run/systemd/nspawn tree) when it was not there before.
//
// Stand-ins for what cannot exist here (no Docker engine, no network, no EC2): see `installStandIns`.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import {
    chmodSync,
    chownSync,
    cpSync,
    existsSync,
    lstatSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    rmSync,
    rmdirSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import * as ts from "typescript";
import type { FakeAwsServerConfig } from "./fake-aws-server";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseUserData } from "../../formats/cloudconfig";
import { DATA_DIR, SECRETS_DIR } from "../../units/layout";

export const NSPAWN = "/usr/bin/systemd-nspawn";
const ENV = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/",
    LANG: "C.UTF-8",
    SYSTEMD_LOG_COLOR: "0",
    SYSTEMD_COLORS: "0",
    SYSTEMD_PAGER: "",
};

/** Where the stand-ins keep their records inside the root. */
export const FAKE_DOCKER_LOG = "/var/log/fake-docker.log";
export const FAKE_DOCKER_STATE = "/var/lib/fake-docker";
export const FAKE_DOCKER_RUN = "/run/fake-docker";
export const PROBE_DIR = "/var/lib/boot-test";
export const PROBE_UNIT = "boot-test-probe.service";

function run(cmd: string, args: readonly string[], what: string): string {
    const r = spawnSync(cmd, args, { env: ENV, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw new Error(`${what}: ${cmd} could not run: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${what}: ${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
}

/** Throws, with what to do about it, unless systemd-nspawn can boot a container here. */
export function assertNspawnUsable(): void {
    if (process.getuid?.() !== 0) throw new Error("the boot test needs root (mount, systemd-nspawn); run it as root");
    if (!existsSync(NSPAWN)) {
        throw new Error(
            `${NSPAWN} is missing: install Debian's systemd-container package (apt-get install -y systemd-container; .ci/run does)`,
        );
    }
    const v = spawnSync(NSPAWN, ["--version"], { env: ENV, encoding: "utf8" });
    if (v.error || v.status !== 0) throw new Error(`${NSPAWN} --version failed: ${v.error?.message ?? v.stderr}`);
    if (!existsSync("/lib/systemd/systemd")) throw new Error("/lib/systemd/systemd is missing: install Debian's systemd package");
}

// ---------------------------------------------------------------------------------------------
// What systemd-nspawn leaves on the real host

/**
 * Directories systemd-nspawn (--keep-unit, --register=no, no host systemd) creates on the host: the
 * container's cgroups next to its own (`payload`, `supervisor`, on each hierarchy that has them) and
 * its runtime dir (/run/systemd/nspawn/{locks,propagate/<machine>}: it cannot remove the latter itself
 * when /run is not a tmpfs, "Attempted to remove disk file system … and we can't allow that").
 */
const NSPAWN_HOST_ROOTS = [
    "/sys/fs/cgroup/systemd/payload",
    "/sys/fs/cgroup/systemd/supervisor",
    "/sys/fs/cgroup/unified/payload",
    "/sys/fs/cgroup/unified/supervisor",
    "/sys/fs/cgroup/payload",
    "/sys/fs/cgroup/supervisor",
    "/run/systemd/nspawn",
];

function directoriesUnder(dir: string): string[] {
    let st;
    try {
        st = lstatSync(dir);
    } catch {
        return [];
    }
    if (!st.isDirectory()) return [];
    const out = [dir];
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...directoriesUnder(path.join(dir, e.name)));
    return out;
}

/** What systemd-nspawn leaves on the real host: snapshot before the boot, remove what is new after. */
export class HostResidue {
    private readonly before = new Set(NSPAWN_HOST_ROOTS.flatMap(directoriesUnder));
    private release: (() => void) | undefined;

    private constructor() {}

    /**
     * Wait for this machine's one boot slot, then snapshot. systemd-nspawn --keep-unit puts every
     * container's `payload`/`supervisor` cgroups under the caller's own cgroup, so two boots at once
     * (mocha runs test files in parallel) would share them: boots take turns, across processes.
     */
    static async acquire(): Promise<HostResidue> {
        const release = await acquireBootSlot();
        const residue = new HostResidue();
        residue.release = release;
        return residue;
    }

    /** The unified (cgroup v2) cgroup the container runs in, when this run created it. */
    payloadCgroup(): string | undefined {
        return ["/sys/fs/cgroup/unified/payload", "/sys/fs/cgroup/payload"].find(
            (p) => !this.before.has(p) && existsSync(path.join(p, "cgroup.kill")),
        );
    }

    /** Removes directories that appeared since the snapshot, deepest first, with rmdir (so only empty ones), and frees the boot slot. Returns problems. */
    cleanup(): string[] {
        const problems: string[] = [];
        const added = NSPAWN_HOST_ROOTS.flatMap(directoriesUnder).filter((d) => !this.before.has(d));
        for (const d of added.sort((a, b) => b.length - a.length)) {
            try {
                rmdirSync(d);
            } catch (e) {
                problems.push(`could not remove ${d}: ${(e as Error).message}`);
            }
        }
        this.release?.();
        this.release = undefined;
        return problems;
    }
}

/** The machine-wide boot slot: a directory created atomically, holding the owner's pid. */
const BOOT_SLOT = path.join(tmpdir(), "coreos-containers-boot.lock");

/** A slot this old without a pid was left by a process killed between creating it and writing the pid. */
const OWNERLESS_SLOT_MS = 10_000;

/**
 * Take the boot slot, waiting while another live process holds it; a slot left by a dead process is
 * taken over. (mkdir, not a rename into place: rename(2) replaces an empty directory, so a waiter could
 * slip in while the owner's release empties it.)
 */
async function acquireBootSlot(timeoutMs = 10 * 60_000): Promise<() => void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            mkdirSync(BOOT_SLOT);
            writeFileSync(path.join(BOOT_SLOT, "pid"), String(process.pid));
            return () => rmSync(BOOT_SLOT, { recursive: true, force: true });
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        let owner = 0;
        let ageMs = 0;
        try {
            ageMs = Date.now() - statSync(BOOT_SLOT).mtimeMs;
            owner = Number(readFileSync(path.join(BOOT_SLOT, "pid"), "utf8")) || 0;
        } catch {
            // No pid (yet): the owner may be between mkdir and writing it; judged by the slot's age below.
        }
        let alive = owner > 0;
        try {
            if (alive) process.kill(owner, 0);
        } catch {
            alive = false;
        }
        if (!alive && (owner > 0 || ageMs > OWNERLESS_SLOT_MS)) rmSync(BOOT_SLOT, { recursive: true, force: true });
        if (Date.now() > deadline) throw new Error(`no boot slot within ${timeoutMs / 1000} s: ${BOOT_SLOT} is held by pid ${owner}`);
        await new Promise((res) => setTimeout(res, 200));
    }
}

// ---------------------------------------------------------------------------------------------
// The throw-away root

export class ThrowAwayRoot {
    /** The temp dir holding everything. */
    readonly base: string;
    /** The overlay's mount point: the container's `/`. */
    readonly root: string;
    private readonly mounts: string[] = [];

    private constructor() {
        this.base = mkdtempSync(path.join(tmpdir(), "coreos-containers-boot-"));
        this.root = path.join(this.base, "root");
    }

    /** Mounts a tmpfs for upper/work and an overlay of `/` over it. Cleans up itself if that fails. */
    static create(): ThrowAwayRoot {
        const r = new ThrowAwayRoot();
        try {
            const rw = path.join(r.base, "rw");
            mkdirSync(rw);
            mkdirSync(r.root);
            run(
                "mount",
                ["-t", "tmpfs", "-o", "mode=0755,size=1g", "coreos-containers-boot-rw", rw],
                "tmpfs for the overlay's upper layer",
            );
            r.mounts.push(rw);
            mkdirSync(path.join(rw, "upper"));
            mkdirSync(path.join(rw, "work"));
            run(
                "mount",
                ["-t", "overlay", "-o", `lowerdir=/,upperdir=${rw}/upper,workdir=${rw}/work`, "coreos-containers-boot-root", r.root],
                "overlay of / as the throw-away root",
            );
            r.mounts.push(r.root);
        } catch (e) {
            const problems = r.dispose();
            throw new Error(`${(e as Error).message}${problems.length ? `\ncleanup: ${problems.join("; ")}` : ""}`, { cause: e });
        }
        return r;
    }

    /** The host path of a path inside the root. */
    at(p: string): string {
        if (!path.isAbsolute(p)) throw new Error(`${p} is not absolute`);
        const full = path.join(this.root, p);
        if (full !== this.root && !full.startsWith(this.root + "/")) throw new Error(`${p} leaves the root`);
        return full;
    }

    write(p: string, content: string | Buffer, mode = 0o644): void {
        const file = this.at(p);
        mkdirSync(path.dirname(file), { recursive: true });
        rmSync(file, { force: true });
        writeFileSync(file, content);
        chmodSync(file, mode);
        chownSync(file, 0, 0);
    }

    symlink(target: string, p: string): void {
        const link = this.at(p);
        mkdirSync(path.dirname(link), { recursive: true });
        rmSync(link, { force: true, recursive: true });
        symlinkSync(target, link);
    }

    read(p: string): string {
        return readFileSync(this.at(p), "utf8");
    }

    readOrEmpty(p: string): string {
        try {
            return this.read(p);
        } catch {
            return "";
        }
    }

    /** Unmounts (innermost first) and removes the temp dir. Never throws; returns problems. */
    dispose(): string[] {
        const problems: string[] = [];
        for (const m of [...this.mounts].reverse()) {
            let r = spawnSync("umount", [m], { env: ENV, encoding: "utf8" });
            if (r.status !== 0) {
                // Something still holds it (a process that escaped the container): detach it anyway.
                problems.push(`umount ${m}: ${r.stderr.trim()}; detached it lazily`);
                r = spawnSync("umount", ["-l", m], { env: ENV, encoding: "utf8" });
                if (r.status !== 0) {
                    problems.push(`umount -l ${m}: ${r.stderr.trim()}`);
                    continue;
                }
            }
            this.mounts.splice(this.mounts.indexOf(m), 1);
        }
        if (this.mounts.length === 0) {
            try {
                // Only empty directories are left once both mounts are gone.
                rmSync(this.base, { recursive: true, force: true });
            } catch (e) {
                problems.push(`rm ${this.base}: ${(e as Error).message}`);
            }
        } else {
            problems.push(`left ${this.base} in place: ${this.mounts.join(", ")} still mounted`);
        }
        return problems;
    }
}

// ---------------------------------------------------------------------------------------------
// A Flatcar-like base in the root

/**
 * Units of this machine's OS masked in the root (links to /dev/null, as `systemctl mask` makes them),
 * so that nothing pulls them in whatever this machine enables statically:
 * - getty.target, console-getty.service, container-getty@.service: login prompts on the console whose
 *   output we capture (in a container systemd's getty generator adds console-getty to getty.target).
 * - systemd-networkd-wait-online.service: see `prepareBase` on network-online.target.
 * - systemd-timesyncd.service: wants the network, to reach NTP servers.
 * Measured here: the bare boot (no units of ours) takes about a second with or without these masks;
 * what matters for time is not starting this machine's own services (see `prepareBase`).
 */
export const MASKED_UNITS: readonly string[] = [
    "getty.target",
    "console-getty.service",
    "container-getty@.service",
    "systemd-networkd-wait-online.service",
    "systemd-timesyncd.service",
];

/**
 * Turns the overlay of this machine's `/` into a bare OS:
 * - its own machine id (the host's would make systemd-nspawn and journald treat it as the host);
 * - none of this machine's local enablement (/etc/systemd/system/*.wants|*.requires: here a
 *   PostgreSQL server, timers, getty@tty1, timesyncd): what starts is systemd's static set plus our units;
 * - default.target = multi-user.target (Flatcar's default);
 * - `MASKED_UNITS` masked.
 * network-online.target: on Flatcar, systemd-networkd-wait-online.service holds it back until a link is
 * configured. With --private-network the container has only `lo`, which wait-online ignores, so it would
 * wait two minutes and fail; it is masked, and nothing else here is ordered before the target, so it is
 * reached as soon as network.target is. The test still checks provision.service waited for it.
 */
export function prepareBase(r: ThrowAwayRoot, machineId: string): void {
    r.write("/etc/machine-id", machineId + "\n", 0o444);
    const etc = r.at("/etc/systemd/system");
    for (const e of readdirSync(etc)) {
        if (e.endsWith(".wants") || e.endsWith(".requires")) rmSync(path.join(etc, e), { recursive: true, force: true });
    }
    r.symlink("/lib/systemd/system/multi-user.target", "/etc/systemd/system/default.target");
    for (const u of MASKED_UNITS) r.symlink("/dev/null", `/etc/systemd/system/${u}`);
}

// ---------------------------------------------------------------------------------------------
// coreos-cloudinit's part

export interface CloudConfigFile {
    readonly path: string;
    readonly permissions: string;
    readonly owner: string;
    readonly content: string;
}

export interface CloudConfigUnit {
    readonly name: string;
    readonly command?: string;
    readonly enable?: boolean;
    readonly content: string;
}

export interface AppliedCloudConfig {
    readonly files: readonly CloudConfigFile[];
    readonly units: readonly CloudConfigUnit[];
}

/**
 * Applies user-data to the root as coreos-cloudinit does on Flatcar, from the YAML the instance would
 * receive: write_files at their paths with their modes and owners, then each unit's content into
 * /etc/systemd/system, then `enable` for the units that ask for it (systemctl's own offline enable,
 * which makes the [Install] symlinks as cloudinit's EnableUnitFiles call does). cloudinit then issues
 * `start` for each unit in list order; in this boot the units are already enabled, so systemd starts
 * them from multi-user.target, as on every later boot of the same host.
 */
export function applyCloudConfig(r: ThrowAwayRoot, userData: string): AppliedCloudConfig {
    const doc = parseUserData(userData) as { write_files?: CloudConfigFile[]; coreos?: { units?: CloudConfigUnit[] } };
    const files = doc.write_files ?? [];
    for (const f of files) {
        if (!/^0?[0-7]{3,4}$/.test(f.permissions)) throw new Error(`${f.path}: permissions ${f.permissions} are not octal`);
        if (f.owner !== "root:root") throw new Error(`${f.path}: owner ${f.owner}: only root:root is supported here`);
        r.write(f.path, f.content, parseInt(f.permissions, 8));
    }
    const units = doc.coreos?.units ?? [];
    for (const u of units) {
        if (u.name.includes("/")) throw new Error(`bad unit name ${u.name}`);
        r.write(`/etc/systemd/system/${u.name}`, u.content, 0o644);
    }
    const enabled = units.filter((u) => u.enable).map((u) => u.name);
    if (enabled.length) run("systemctl", [`--root=${r.root}`, "enable", ...enabled], "systemctl --root enable");
    return { files, units };
}

/** The stand-in for coreos-cloudinit's unit commands (see {@link startAsCloudInit}). */
export const CLOUDINIT_STAND_IN_UNIT = "coreos-cloudinit-stand-in.service";
const CLOUDINIT_STAND_IN = "/usr/local/libexec/coreos-cloudinit-stand-in";

/**
 * Makes the next boot start the units as coreos-cloudinit does on a host's first boot: nothing of
 * ours is enabled when systemd computes the boot's transaction (cloudinit writes and enables the
 * units while the boot runs, too late for it); cloudinit then runs each unit's `command: start` in
 * list order, each waiting for its job to finish: flatcar/coreos-cloudinit `system/systemd.go`
 * RunUnitCommand calls go-systemd's `StartUnit(name, "replace")`, whose runJob returns only when the
 * job's JobRemoved signal arrives. A one-shot stand-in, started at boot, enables the units one by one
 * (as cloudinit's EnableUnitFile does), reloads, and runs `systemctl start` (which also waits for the
 * job) for each, in the user-data's order.
 * It stays enabled: cloudinit runs at every boot, its starts then finding the units started.
 */
export function startAsCloudInit(r: ThrowAwayRoot, applied: AppliedCloudConfig): void {
    const names = applied.units.map((u) => u.name);
    const enabled = applied.units.filter((u) => u.enable).map((u) => u.name);
    const started = applied.units.filter((u) => u.command === "start").map((u) => u.name);
    if (names.some((n) => !/^[A-Za-z0-9@._:-]+$/.test(n))) throw new Error(`unit names must be plain words: ${names.join(" ")}`);
    if (enabled.length) run("systemctl", [`--root=${r.root}`, "disable", ...enabled], "systemctl --root disable");
    r.write(
        CLOUDINIT_STAND_IN,
        [
            "#!/bin/bash",
            // One unit at a time, as cloudinit's EnableUnitFile does: one that cannot be enabled stops no other.
            ...(enabled.length ? [`for u in ${enabled.join(" ")}; do systemctl enable "$u" || echo "enable $u: failed"; done`] : []),
            "systemctl daemon-reload",
            `for u in ${started.join(" ")}; do systemctl start "$u" || echo "start $u: failed"; done`,
            "",
        ].join("\n"),
        0o755,
    );
    r.write(
        `/etc/systemd/system/${CLOUDINIT_STAND_IN_UNIT}`,
        `[Unit]\nDescription=Stand-in for coreos-cloudinit's unit commands (boot test)\n\n[Service]\nType=oneshot\nExecStart=${CLOUDINIT_STAND_IN}\n\n[Install]\nWantedBy=multi-user.target\n`,
    );
    r.symlink(`../${CLOUDINIT_STAND_IN_UNIT}`, `/etc/systemd/system/multi-user.target.wants/${CLOUDINIT_STAND_IN_UNIT}`);
}

// ---------------------------------------------------------------------------------------------
// Stand-ins

/**
 * Docker's CLI. Every call is recorded in FAKE_DOCKER_LOG as NUL-terminated fields: the calling
 * unit (the last part of the caller's cgroup), argv[0], when it was called (µs since the epoch,
 * bash's EPOCHREALTIME), argc, then each argument. It keeps just enough state to answer as docker would:
 * - without the daemon (docker.service's stand-in not started) every call fails as docker's CLI does;
 * - `image inspect REF` succeeds only for pulled or loaded images; `pull REF` records REF (there is
 *   no registry); `load -i FILE` reads RepoTags from the tarball's manifest.json, as `docker save`
 *   writes it; `images -q --filter dangling=true` lists nothing; `rmi` does nothing;
 * - `network inspect|create NAME` per the known networks;
 * - `run --rm --name NAME …` refuses an unknown flag, a missing image (docker would try to pull: no
 *   network here), an unknown --network, an --env-file it cannot read, or a NAME already running;
 *   records -v sources that do not exist (docker would create an empty directory there); appends
 *   `NAME MACHINE-ID µs` to `written-by-fake-docker` in each -v source under DATA_DIR (a container
 *   writing its data, which test/bootData.test.ts reads back from the disk); keeps a copy
 *   of what it read from --env-file (env-files/NAME) and of each -v source under SECRETS_DIR
 *   (secret-files/NAME/…, owner and mode kept); then stays in the foreground until a signal
 *   (a `trap` cannot survive `exec`, so it waits on a background `sleep infinity` instead);
 * - `stop -t N NAME` sends TERM to that run and waits up to N s before KILL; `rm -f NAME` kills it.
 *   Both fail with "No such container" when NAME is not running (the units' `-` prefix on `rm -f`
 *   covers that).
 * - `run` accepts the `--health-*` flags; with `--health-cmd` the container has a health check whose
 *   status `inspect --format` reports, for the three templates the host scripts use
 *   (`{{.State.Health.Status}}`, `{{if .State.Health}}…{{end}}`, `{{json .State.Health}}`, the last
 *   in Docker's shape: Status, FailingStreak, Log[{Start, End, ExitCode, Output}]), and "No such object"
 *   when NAME is not running;
 * - how long pulls and loads take, which pulls fail first, and when each container turns healthy or
 *   unhealthy are the test's FakeDockerBehaviour (FAKE_DOCKER_STATE/behaviour); pulls and loads sleep
 *   without holding the fake's lock, so they run in parallel as Docker's do.
 */
export const FAKE_DOCKER = `#!/bin/bash
# Stand-in for Docker's CLI, written by test/boot.test.ts into a throw-away root.
set -u
S=${FAKE_DOCKER_STATE} R=${FAKE_DOCKER_RUN} LOG=${FAKE_DOCKER_LOG}
t0=\${EPOCHREALTIME/./}
# The caller's unit: the systemd hierarchy's cgroup (hybrid cgroups), else the unified one. Builtins only: fast.
cg=
while IFS= read -r l; do
  case $l in *:name=systemd:*) cg=\${l#*:name=systemd:} ;; 0::*) [ -n "$cg" ] || cg=\${l#0::} ;; esac
done </proc/self/cgroup
exec 9>>"$S/lock"
flock 9
printf '%s\\0' "\${cg##*/}" "$0" "$t0" "$#" "$@" >>"$LOG"
fail() { echo "$2" >&2; exit "$1"; }
unsupported() { fail 2 "fake docker: unsupported call: docker $*"; }
[ -e "$R/daemon" ] || fail 1 "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
pid_of() { local p; read -r p 2>/dev/null <"$R/containers/$1" && kill -0 "$p" 2>/dev/null && echo "$p"; }
gone() { local i; for ((i = 0; i < $2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
# The test's setting KIND KEY (FAKE_DOCKER_BEHAVIOUR), e.g. "pull REF 500" → 500; fails when there is none.
setting() { local k a b; while read -r k a b; do [ "$k $a" = "$1 $2" ] && { echo "\${b:-0}"; return 0; }; done <"$S/behaviour"; return 1; }
nap() { local s; printf -v s %d.%03d $(($1 / 1000)) $(($1 % 1000)); sleep "$s"; }
# NAME's health status now ("" without a health check), from the time its run started and the setting.
health() {
  local since el ms
  read -r since 2>/dev/null <"$R/health/$1" || return 0
  el=$(((t0 - since) / 1000))
  if ms=$(setting healthy "$1"); then ((el >= ms)) && echo healthy || echo starting
  elif ms=$(setting unhealthy "$1"); then ((el >= ms)) && echo unhealthy || echo starting
  elif setting starting "$1" >/dev/null; then echo starting
  else echo healthy; fi
}
case "\${1:-}" in
rm)
  [ $# -eq 3 ] && [ "$2" = -f ] || unsupported "$@"
  p=$(pid_of "$3") || fail 1 "Error response from daemon: No such container: $3"
  flock -u 9
  kill -KILL "$p"; gone "$p" 50; rm -f "$R/containers/$3"; echo "$3" ;;
stop)
  [ $# -eq 4 ] && [ "$2" = -t ] && [[ $3 =~ ^[0-9]+$ ]] || unsupported "$@"
  p=$(pid_of "$4") || fail 1 "Error response from daemon: No such container: $4"
  flock -u 9
  kill -TERM "$p"; gone "$p" $(($3 * 10)) || { kill -KILL "$p"; gone "$p" 50; }
  rm -f "$R/containers/$4"; echo "$4" ;;
inspect)
  [ $# -eq 4 ] && [ "$2" = --format ] || unsupported "$@"
  pid_of "$4" >/dev/null || fail 1 "Error: No such object: $4"
  h=$(health "$4")
  case "$3" in
  "{{.State.Health.Status}}") [ -n "$h" ] || fail 1 "template parsing error: template: :1:8: executing \\"\\" at <.State.Health.Status>: map has no entry for key \\"Health\\""
    echo "$h" ;;
  "{{if .State.Health}}{{.State.Health.Status}}{{end}}") echo "$h" ;;
  "{{json .State.Health}}") [ -n "$h" ] || { echo null; exit 0; }
    [ "$h" = healthy ] && c=0 || c=1
    printf '{"Status":"%s","FailingStreak":%d,"Log":[{"Start":"-","End":"-","ExitCode":%d,"Output":"fake check of %s: %s\\\\n"}]}\\n' "$h" "$c" "$c" "$4" "$h" ;;
  *) unsupported "$@" ;;
  esac ;;
image)
  [ $# -eq 3 ] && [ "$2" = inspect ] || unsupported "$@"
  grep -Fxq -- "$3" "$S/images" || { echo "[]"; fail 1 "Error: No such image: $3"; }
  printf '[{"RepoTags": ["%s"]}]\\n' "$3" ;;
pull)
  [ $# -eq 2 ] || unsupported "$@"
  if n=$(setting pull-fail "$2") && (($(grep -cFx -- "$2" "$S/pull-failures") < n)); then
    echo "$2" >>"$S/pull-failures"
    fail 1 "Error response from daemon: Get \\"https://registry.invalid/v2/\\": dial tcp: i/o timeout (fake)"
  fi
  flock -u 9
  ms=$(setting pull "$2") && nap "$ms"
  echo "$2" >>"$S/images"; echo "$2: pulled (fake)" ;;
load)
  [ $# -eq 3 ] && [ "$2" = -i ] || unsupported "$@"
  [ -f "$3" ] || fail 1 "open $3: no such file or directory"
  refs=$(tar -xOf "$3" manifest.json 2>/dev/null | grep -o '"RepoTags":\\[[^]]*\\]' | grep -o '"[^"]*"' | sed 1d | tr -d '"')
  [ -n "$refs" ] || fail 1 "invalid tar header / no RepoTags in $3"
  flock -u 9
  for ref in $refs; do ms=$(setting load "$ref") && nap "$ms"; done
  for ref in $refs; do echo "$ref" >>"$S/images"; echo "Loaded image: $ref"; done ;;
images)
  [ "$*" = "images -q --filter dangling=true" ] || unsupported "$@" ;;
rmi) ;;
network)
  [ $# -eq 3 ] || unsupported "$@"
  case "$2" in
  inspect) grep -Fxq -- "$3" "$S/networks" || { echo "[]"; fail 1 "Error response from daemon: network $3 not found"; }
    printf '[{"Name": "%s"}]\\n' "$3" ;;
  create) grep -Fxq -- "$3" "$S/networks" && fail 1 "Error response from daemon: network with name $3 already exists"
    echo "$3" >>"$S/networks"; echo "fake-network-id-$3" ;;
  *) unsupported "$@" ;;
  esac ;;
run)
  [ "\${2:-}" = --rm ] && [ "\${3:-}" = --name ] && [ $# -ge 5 ] || unsupported "$@"
  name=$4 net=default image='' checked='' ; shift 4
  while [ $# -gt 0 ]; do
    case "$1" in
    --privileged) shift ;;
    --network) net=$2; shift 2 ;;
    -v) src=\${2%%:*}; [ -e "$src" ] || echo "$name $src" >>"$S/missing-mounts"
      # What a secret file held when the container started (with owner and mode): /run is the container's own.
      case $src in ${SECRETS_DIR}/*) mkdir -p "$S/secret-files/$name"; cp -p -- "$src" "$S/secret-files/$name/\${src##*/}" ;; esac
      # A container "writes" into its data folder: which container, on which host (machine id), when.
      case $src in ${DATA_DIR}/*) echo "$name $(cat /etc/machine-id) \${EPOCHREALTIME/./}" >>"$src/written-by-fake-docker" ;; esac
      shift 2 ;;
    --env-file) [ -r "$2" ] || fail 125 "docker: open $2: no such file or directory."
      mkdir -p "$S/env-files"; cp -p -- "$2" "$S/env-files/$name"; shift 2 ;;
    -p | -e | --ulimit | --health-interval | --health-timeout | --health-retries | --health-start-period | --health-start-interval) shift 2 ;;
    --health-cmd) checked=1; shift 2 ;;
    -*) fail 125 "fake docker: run flag $1 is not known to the fake (add it to test/helpers/boot.ts)" ;;
    *) image=$1; break ;;
    esac
  done
  [ -n "$image" ] || fail 125 "docker: 'docker run' requires at least 1 argument."
  grep -Fxq -- "$image" "$S/images" || fail 125 "Unable to find image '$image' locally (and there is no registry here)"
  [ "$net" = default ] || grep -Fxq -- "$net" "$S/networks" || fail 125 "docker: Error response from daemon: network $net not found."
  pid_of "$name" >/dev/null && fail 125 "docker: Error response from daemon: Conflict. The container name \\"/$name\\" is already in use."
  echo $$ >"$R/containers/$name"
  if [ -n "$checked" ]; then echo "$t0" >"$R/health/$name"; else rm -f "$R/health/$name"; fi
  flock -u 9
  exec 9>&-
  trap 'kill "$sp" 2>/dev/null; rm -f "$R/containers/$name"; exit 0' TERM INT
  sleep infinity &
  sp=$!
  wait "$sp" ;;
*) unsupported "$@" ;;
esac
`;

/** How the fake docker behaves over time, per image ref or container name. Times in milliseconds. */
export interface FakeDockerBehaviour {
    /** `docker pull REF` takes this long. */
    readonly pullMs?: Readonly<Record<string, number>>;
    /** `docker load` of a tarball carrying REF takes this long. */
    readonly loadMs?: Readonly<Record<string, number>>;
    /** The first N `docker pull REF` fail, as a registry that cannot be reached. */
    readonly pullFailures?: Readonly<Record<string, number>>;
    /**
     * Container NAME run with a health check: healthy this long after its `docker run`, unhealthy after
     * that long, or `never` healthy (starting for ever). Not listed: healthy at once.
     */
    readonly health?: Readonly<Record<string, { readonly healthyAfterMs: number } | { readonly unhealthyAfterMs: number } | "never">>;
}

/** FakeDockerBehaviour as the fake reads it: `KIND KEY VALUE` lines. */
export function fakeDockerBehaviour(b: FakeDockerBehaviour): string {
    const lines: string[] = [];
    const ms = (v: number) => String(Math.max(0, Math.round(v)));
    for (const [ref, v] of Object.entries(b.pullMs ?? {})) lines.push(`pull ${ref} ${ms(v)}`);
    for (const [ref, v] of Object.entries(b.loadMs ?? {})) lines.push(`load ${ref} ${ms(v)}`);
    for (const [ref, v] of Object.entries(b.pullFailures ?? {})) lines.push(`pull-fail ${ref} ${ms(v)}`);
    for (const [name, v] of Object.entries(b.health ?? {})) {
        if (v === "never") lines.push(`starting ${name}`);
        else if ("healthyAfterMs" in v) lines.push(`healthy ${name} ${ms(v.healthyAfterMs)}`);
        else lines.push(`unhealthy ${name} ${ms(v.unhealthyAfterMs)}`);
    }
    for (const l of lines) if (l.split(" ").length !== 3 && !l.startsWith("starting ")) throw new Error(`bad fake docker setting: ${l}`);
    return lines.map((l) => l + "\n").join("");
}

/** Sets the fake docker's behaviour for the next boot of this root. */
export function setFakeDockerBehaviour(r: ThrowAwayRoot, b: FakeDockerBehaviour): void {
    r.write(`${FAKE_DOCKER_STATE}/behaviour`, fakeDockerBehaviour(b), 0o600);
}

/** docker.service's stand-in: marks the daemon up for the fake CLI while it is active. */
export const DOCKER_SERVICE_STUB = `[Unit]
Description=Stand-in for the Docker daemon (boot test)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mkdir -p ${FAKE_DOCKER_RUN}/containers ${FAKE_DOCKER_RUN}/health
ExecStart=/bin/touch ${FAKE_DOCKER_RUN}/daemon
ExecStop=/bin/rm -f ${FAKE_DOCKER_RUN}/daemon
`;

/**
 * The probe: once the boot has finished (`is-system-running --wait`; or, when PROBE_DIR/wait-for
 * names a file, once that file exists; at most PROBE_DIR/timeout-seconds, 25 by default) and every
 * container's fake `run` is up (bounded), it records where the docker log stands, `systemctl show` for the units
 * listed in PROBE_DIR/units, the failed units, which process runs each container and in which
 * cgroup, and `systemd-analyze time`; then runs PROBE_DIR/hook when a test put one there; then
 * `done`, then it powers the machine off, so shutdown runs every unit's ExecStop.
 */
export const PROBE_SCRIPT = `#!/bin/bash
set -u
O=${PROBE_DIR}
mapfile -t units <"$O/units"
mapfile -t containers <"$O/containers"
limit=$(cat "$O/timeout-seconds" 2>/dev/null || echo 25)
if [ -s "$O/wait-for" ]; then
  # A boot whose units keep starting never finishes: wait for the file the test names instead (bounded).
  f=$(cat "$O/wait-for")
  for ((i = 0; i < limit * 10; i++)); do [ -e "$f" ] && break; sleep 0.1; done
  state=$(systemctl is-system-running 2>&1)
else
  state=$(timeout "$limit" systemctl is-system-running --wait 2>&1)
  [ $? -ne 124 ] || state="boot not finished after $limit s: $(systemctl is-system-running 2>&1)"
fi
systemctl list-jobs --no-pager >"$O/jobs" 2>&1
for ((i = 0; i < 100; i++)); do
  up=1
  for c in "\${containers[@]}"; do p=$(cat "${FAKE_DOCKER_RUN}/containers/$c" 2>/dev/null) && kill -0 "$p" 2>/dev/null || up=0; done
  [ $up = 1 ] && break
  sleep 0.1
done
flock ${FAKE_DOCKER_STATE}/lock sh -c 'stat -c %s ${FAKE_DOCKER_LOG} 2>/dev/null || echo 0' >"$O/log-offset"
systemctl show -p Id,LoadState,ActiveState,SubState,Result,ExecMainStatus,NRestarts,InactiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic "\${units[@]}" >"$O/show" 2>&1
systemctl list-units --all --failed --plain --no-legend --no-pager >"$O/failed" 2>&1
# Which cgroup each container's docker run is in: the systemd hierarchy's (hybrid cgroups), else the unified one.
cgroup_of() { sed -n 's/^[0-9]*:name=systemd://p' "/proc/$1/cgroup" | grep . || sed -n 's/^0:://p' "/proc/$1/cgroup"; }
for c in "\${containers[@]}"; do
  p=$(cat "${FAKE_DOCKER_RUN}/containers/$c" 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$c $p $(cgroup_of "$p")"
done >"$O/running"
systemd-analyze time >"$O/analyze" 2>&1
systemd-analyze critical-chain --no-pager multi-user.target >"$O/critical-chain" 2>&1
echo "$state" >"$O/system-state"
# A test's own steps after the record above (e.g. crash a container and record again).
[ ! -x "$O/hook" ] || "$O/hook" >"$O/hook.out" 2>&1
touch "$O/done"
systemctl poweroff --no-block
`;

// Not After=multi-user.target: that target waits for every unit it wants, so a unit stuck starting
// would keep the probe from ever running. The probe bounds its own waiting instead.
export const PROBE_UNIT_TEXT = `[Unit]
Description=Boot test probe: records unit states once the boot is done, then powers off

[Service]
Type=exec
ExecStart=${PROBE_DIR}/probe

[Install]
WantedBy=multi-user.target
`;

/** A `docker save`-shaped tarball: manifest.json with RepoTags, an empty layer list. */
export function fakeImageTarball(dir: string, ref: string, out: string): void {
    const work = mkdtempSync(path.join(dir, "image-"));
    writeFileSync(path.join(work, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: [ref], Layers: [] }]));
    writeFileSync(
        path.join(work, "config.json"),
        JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }),
    );
    mkdirSync(path.dirname(out), { recursive: true });
    run("tar", ["-cf", out, "-C", work, "manifest.json", "config.json"], "fake image tarball");
    rmSync(work, { recursive: true, force: true });
}

export interface SeedArtifact {
    /** The artifact root on the host, e.g. /var/lib/coreos-containers/artifact. */
    readonly artifactRoot: string;
    readonly sha256: string;
    /** The repo's artifact/ folder. */
    readonly sourceDir: string;
    /** Tarball images: file name under images/ → the ref it carries. */
    readonly images: readonly { readonly file: string; readonly ref: string }[];
    readonly imagesDir: string;
}

/**
 * A release already in place, as the provision script leaves it: releases/<sha>/ with the artifact's
 * files and its `.provisioned` marker, and `current` → releases/<sha>. The real script then takes its
 * "already current" path and touches no network.
 */
export function seedArtifact(r: ThrowAwayRoot, a: SeedArtifact): void {
    const rel = r.at(`${a.artifactRoot}/releases/${a.sha256}`);
    mkdirSync(rel, { recursive: true });
    cpSync(a.sourceDir, rel, { recursive: true });
    for (const img of a.images) fakeImageTarball(r.base, img.ref, path.join(rel, a.imagesDir, img.file));
    writeFileSync(path.join(rel, ".provisioned"), "");
    r.symlink(`releases/${a.sha256}`, `${a.artifactRoot}/current`);
}

export interface StandInOptions {
    /** Units to report on (`systemctl show`). */
    readonly units: readonly string[];
    /** Container names whose fake `run` the probe waits for. */
    readonly containers: readonly string[];
    /** Extra environment for every unit (systemd's DefaultEnvironment=), e.g. shorter poll intervals. */
    readonly environment?: Readonly<Record<string, string>>;
    /** How the fake docker behaves over time; by default everything is instant and healthy. */
    readonly behaviour?: FakeDockerBehaviour;
}

/** The fake docker CLI, docker.service's stand-in and the probe (enabled). */
export function installStandIns(r: ThrowAwayRoot, o: StandInOptions): void {
    r.write("/usr/bin/docker", FAKE_DOCKER, 0o755);
    for (const f of ["lock", "images", "networks", "pull-failures"]) r.write(`${FAKE_DOCKER_STATE}/${f}`, "", 0o600);
    r.write(`${FAKE_DOCKER_STATE}/behaviour`, fakeDockerBehaviour(o.behaviour ?? {}), 0o600);
    r.write("/etc/systemd/system/docker.service", DOCKER_SERVICE_STUB);
    r.write(`${PROBE_DIR}/probe`, PROBE_SCRIPT, 0o755);
    r.write(`${PROBE_DIR}/units`, o.units.join("\n") + "\n");
    r.write(`${PROBE_DIR}/containers`, o.containers.join("\n") + "\n");
    const env = Object.entries(o.environment ?? {}).map(([k, v]) => `${k}=${v}`);
    if (env.some((e) => /[\s"'\\]/.test(e))) throw new Error(`environment values must be plain words: ${env.join(" ")}`);
    if (env.length) r.write("/etc/systemd/system.conf.d/boot-test.conf", `[Manager]\nDefaultEnvironment=${env.join(" ")}\n`);
    r.write(`/etc/systemd/system/${PROBE_UNIT}`, PROBE_UNIT_TEXT);
    r.symlink(`../${PROBE_UNIT}`, `/etc/systemd/system/multi-user.target.wants/${PROBE_UNIT}`);
}

// ---------------------------------------------------------------------------------------------
// The machine

export class Machine {
    private readonly child: ChildProcess;
    private output = "";
    readonly startedAt = Date.now();
    exitedAt: number | undefined;
    exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    private readonly exited: Promise<void>;

    /** Boots the root: systemd as PID 1, only `lo` for networking, nothing registered with a host systemd. */
    constructor(
        readonly r: ThrowAwayRoot,
        readonly name: string,
        /** More systemd-nspawn options, e.g. `--bind=/dev/loop0:/dev/disk/by-id/…` for a data volume's stand-in. */
        extraArgs: readonly string[] = [],
    ) {
        this.child = spawn(
            NSPAWN,
            [
                `--directory=${r.root}`,
                `--machine=${name}`,
                "--boot",
                "--private-network",
                "--register=no",
                "--keep-unit",
                "--link-journal=no",
                "--console=read-only",
                "--resolv-conf=off",
                "--timezone=off",
                ...extraArgs,
            ],
            { env: ENV, stdio: ["ignore", "pipe", "pipe"] },
        );
        const take = (b: Buffer) => {
            this.output += b.toString("utf8");
        };
        this.child.stdout!.on("data", take);
        this.child.stderr!.on("data", take);
        this.exited = new Promise((resolve) => {
            const done = (code: number | null, signal: NodeJS.Signals | null) => {
                if (this.exit) return;
                this.exit = { code, signal };
                this.exitedAt = Date.now();
                resolve();
            };
            this.child.on("exit", done);
            this.child.on("error", (e) => {
                this.output += `\n[spawn error: ${e.message}]\n`;
                done(null, null);
            });
        });
    }

    /** The console (systemd-nspawn's and the container's output), without colour codes. */
    get console(): string {
        // eslint-disable-next-line no-control-regex
        return this.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
    }

    get running(): boolean {
        return this.exit === undefined;
    }

    /** Waits until `file` (inside the root) exists or the machine exits; true if the file appeared in time. */
    async waitForFile(file: string, timeoutMs: number): Promise<boolean> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            if (existsSync(this.r.at(file))) return true;
            if (!this.running || Date.now() > deadline) return false;
            await new Promise((res) => setTimeout(res, 50));
        }
    }

    /** Waits for the machine to exit on its own; true if it did in time. */
    async waitForExit(timeoutMs: number): Promise<boolean> {
        if (!this.running) return true;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((res) => (timer = setTimeout(res, timeoutMs)));
        await Promise.race([this.exited, timeout]);
        clearTimeout(timer);
        return !this.running;
    }

    /**
     * Makes sure the machine is gone: SIGTERM (systemd-nspawn asks the container's systemd for a clean
     * shutdown), then SIGKILL, then, if the container's processes outlive systemd-nspawn, cgroup.kill on
     * the payload cgroup this run created. Returns what it had to do.
     */
    async ensureStopped(residue: HostResidue): Promise<string[]> {
        const did: string[] = [];
        if (this.running) {
            did.push("sent SIGTERM to systemd-nspawn");
            this.child.kill("SIGTERM");
            if (!(await this.waitForExit(15_000))) {
                did.push("sent SIGKILL to systemd-nspawn");
                this.child.kill("SIGKILL");
                await this.waitForExit(5_000);
            }
        }
        const payload = residue.payloadCgroup();
        if (payload) {
            for (let i = 0; i < 50; i++) {
                const procs = spawnSync("find", [payload, "-name", "cgroup.procs", "-exec", "cat", "{}", "+"], {
                    encoding: "utf8",
                }).stdout.trim();
                if (procs === "") break;
                if (i === 0) did.push(`killed processes left in ${payload}`);
                writeFileSync(path.join(payload, "cgroup.kill"), "1");
                await new Promise((res) => setTimeout(res, 100));
            }
        }
        return did;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the results

export interface DockerCall {
    /** The unit whose cgroup made the call, e.g. `docker-elastic.service`. */
    readonly unit: string;
    readonly argv0: string;
    /** When it was called, in milliseconds since the epoch (µs precision). */
    readonly atMs: number;
    readonly args: readonly string[];
}

/** Parses FAKE_DOCKER_LOG. Throws if a record is cut short. */
export function parseDockerLog(buf: Buffer | string): DockerCall[] {
    const fields = buf.toString().split("\0");
    if (fields.pop() !== "") throw new Error("the fake docker log does not end with a complete record");
    const calls: DockerCall[] = [];
    for (let i = 0; i < fields.length;) {
        const [unit, argv0, at, count] = [fields[i], fields[i + 1], Number(fields[i + 2]), Number(fields[i + 3])];
        if (
            unit === undefined ||
            argv0 === undefined ||
            !Number.isInteger(at) ||
            !Number.isInteger(count) ||
            i + 4 + count > fields.length
        ) {
            throw new Error(`the fake docker log is malformed at field ${i}`);
        }
        calls.push({ unit, argv0, atMs: at / 1000, args: fields.slice(i + 4, i + 4 + count) });
        i += 4 + count;
    }
    return calls;
}

export function formatCall(c: DockerCall): string {
    return `${c.unit}: docker ${c.args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}`;
}

/** `systemctl show -p … UNIT…` output → unit → property → value. */
export function parseShow(text: string): Map<string, Map<string, string>> {
    const result = new Map<string, Map<string, string>>();
    for (const block of text.split(/\n\n+/)) {
        const props = new Map<string, string>();
        for (const line of block.split("\n")) {
            const eq = line.indexOf("=");
            if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1));
        }
        const id = props.get("Id");
        if (id) result.set(id, props);
    }
    return result;
}

/** The root's persistent journal (journald in the container writes to /var/log/journal/<machine-id>). */
export function journal(r: ThrowAwayRoot, args: readonly string[] = []): string {
    const dir = r.at("/var/log/journal");
    const j = spawnSync("journalctl", [`--directory=${dir}`, "--no-pager", "--no-hostname", "-o", "short-monotonic", ...args], {
        env: ENV,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    return (j.stdout ?? "") + (j.status === 0 ? "" : `[journalctl exited with ${j.status}: ${j.stderr}]`);
}

export function tail(text: string, lines: number): string {
    const all = text.trimEnd().split("\n");
    return (all.length > lines ? [`… (${all.length - lines} earlier lines)`] : []).concat(all.slice(-lines)).join("\n");
}

// ---------------------------------------------------------------------------------------------
// AWS stand-ins inside a booted root

/** Where the AWS stand-ins live inside a booted root, and the unit that runs them. */
export const AWS_STAND_IN_DIR = "/var/lib/boot-test/aws";
export const AWS_STAND_IN_UNIT = "boot-test-aws.service";

/**
 * Installs the SigV4-checking AWS stand-ins (test/helpers/fake-aws.ts, run by fake-aws-server.ts) into
 * a root, as plain JavaScript, with their config and a `Type=notify` unit that runs them under the
 * test's own node. Each unit that calls AWS gets a drop-in from the caller that `Wants=`/`After=` it.
 */
export function installAwsStandIns(r: ThrowAwayRoot, config: FakeAwsServerConfig, description: string): void {
    for (const f of ["fake-aws", "fake-aws-server"]) {
        const source = readFileSync(path.join(__dirname, `${f}.ts`), "utf8");
        const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
        r.write(`${AWS_STAND_IN_DIR}/${f}.js`, js.outputText);
    }
    r.write(`${AWS_STAND_IN_DIR}/config.json`, JSON.stringify(config), 0o600);
    r.write(
        `/etc/systemd/system/${AWS_STAND_IN_UNIT}`,
        `[Unit]\nDescription=Boot test: ${description}\n\n[Service]\nType=notify\nNotifyAccess=all\nExecStart=${process.execPath} ${AWS_STAND_IN_DIR}/fake-aws-server.js ${AWS_STAND_IN_DIR}/config.json\n`,
    );
}
