// A loop device over a sparse file: the EBS volume's stand-in in the data volume tests. Needs root (losetup).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export function sh(cmd: string, args: readonly string[]): string {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stdout}${r.stderr}`);
    return r.stdout;
}

/** A sparse file behind a loop device: the EBS volume's stand-in. Needs root (losetup). */
export class LoopDisk {
    readonly device: string;
    private constructor(
        readonly file: string,
        device: string,
    ) {
        this.device = device;
    }
    static create(dir: string, mib = 32): LoopDisk {
        if (process.getuid?.() !== 0) throw new Error("the data volume tests need root (losetup); run them as root");
        const file = path.join(dir, "ebs.img");
        fs.writeFileSync(file, "");
        fs.truncateSync(file, mib * 1024 * 1024);
        return new LoopDisk(file, sh("losetup", ["--find", "--show", file]).trim());
    }
    /** `blkid -p -o export` as a map; empty when the disk is blank. */
    probe(): Map<string, string> {
        const r = spawnSync("blkid", ["-p", "-o", "export", this.device], { encoding: "utf8" });
        return new Map(
            r.stdout
                .split("\n")
                .filter((l) => l.includes("="))
                .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
        );
    }
    /** Mounts the disk on a temp dir, runs `f` with that dir, unmounts. */
    withMounted<T>(dir: string, f: (at: string) => T): T {
        const at = fs.mkdtempSync(path.join(dir, "mnt-"));
        sh("mount", [this.device, at]);
        try {
            return f(at);
        } finally {
            sh("umount", [at]);
            fs.rmdirSync(at);
        }
    }
    dispose(): void {
        spawnSync("losetup", ["-d", this.device]);
    }
}
