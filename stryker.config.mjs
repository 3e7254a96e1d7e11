// Mutation testing of the pure modules: `npm run mutation` (not in CI). Stryker plants one small bug
// at a time in the modules below and runs the mocha tests that cover it; a mutant no test notices
// "survives". Reports go to .cache/mutation/ (git-ignored): index.html, mutation.json, and the
// per-module and per-file scores that scripts/mutation-scores.ts prints at the end. An equivalent
// mutant (one no test can tell apart) is disabled where it stands, with
// `// Stryker disable next-line <mutator>: <why>` — never by narrowing the mutators or `mutate`.
//
// What keeps it practical on 2 cores (README, "Mutation testing"):
// - perTest coverage: a mutant runs only the tests that executed its code; the root hook in
//   test/helpers/mutationHooks.ts credits what a suite's `before` hook computes to that suite's tests.
// - ignoreStatic: a mutant executed only while modules load (a table built at import) would need a
//   fresh process and the whole suite per mutant; such mutants are reported as Ignored, not run.
// - systemd's answers are cached by unit text (test/helpers/systemd.ts) in the project's .cache.
// - `npm run mutation -- --incremental` reruns only mutants whose code or covering tests changed
//   (.cache/mutation/incremental.json).
import * as path from "node:path";

// Stryker's sandboxes copy the project without .cache: point the systemd cache at the real one.
process.env.COREOS_CONTAINERS_SYSTEMD_CACHE ??= path.resolve(".cache/systemd-answers");

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
    packageManager: "npm",
    testRunner: "mocha",
    testRunnerNodeArgs: ["--import", "tsx"],
    mochaOptions: {
        config: ".mocharc.json",
        require: ["test/helpers/mutationHooks.ts"],
        // The tests of the pure modules that run in-process. Boots, child-process plans and CLI runs
        // would not see an in-process mutant anyway (a child process runs the code without it).
        spec: [
            "test/quote.test.ts",
            "test/systemd.test.ts",
            "test/health.test.ts",
            "test/exposure.test.ts",
            "test/dataVolumeUnits.test.ts",
            "test/unitsRules.test.ts",
            "test/secretsUnits.test.ts",
            "test/hostUnits.test.ts",
            "test/validate.test.ts",
            "test/validateRules.test.ts",
            "test/codes.test.ts",
            "test/cloudconfig.test.ts",
            "test/cloudinit.test.ts",
            "test/cloudconfigValidateRules.test.ts",
            "test/cloudconfigValidateValues.test.ts",
            "test/cloudconfigFormat.test.ts",
            // Not test/ignition.test.ts: it runs Ignition's own binaries and boots (minutes on a busy
            // machine); its port of ignition-validate is checked case by case in ignitionValidate.test.ts.
            "test/ignitionValidate.test.ts",
            "test/ignitionFormat.test.ts",
            "test/userdata.test.ts",
            "test/config.test.ts",
            "test/pack.test.ts",
            "test/packRules.test.ts",
            "test/packBytes.test.ts",
            "test/packLayout.test.ts",
            // scripts/diff/decide.ts on hand-made plans (test/diff.test.ts plans in child processes).
            "test/decide.test.ts",
        ],
    },
    checkers: ["typescript"],
    // The checker type-checks only the mutated modules and their imports (tsconfig.mutation.json).
    // scripts/mutation.sh narrows it to the files a run mutates (tsconfig.mutation.run.json).
    tsconfigFile: process.env.COREOS_CONTAINERS_MUTATION_TSCONFIG ?? "tsconfig.mutation.json",
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    coverageAnalysis: "perTest",
    ignoreStatic: true,
    mutate: ["units/**/*.ts", "formats/**/*.ts", "packing/**/*.ts", "config.ts", "scripts/diff/decide.ts"],
    ignorePatterns: [".cache", "out", "build", ".stryker-tmp"],
    // 2 checker processes and 1 test runner while mutants are type-checked (the checker is the slow part
    // here), then 3 test runners (Stryker splits concurrency: ceil(n/2) checkers, floor(n/2) runners).
    concurrency: 3,
    // On top of each mutant's own dry-run time × timeoutFactor: enough for a slow test on a busy machine.
    timeoutMS: 10000,
    incrementalFile: ".cache/mutation/incremental.json",
    reporters: ["html", "json", "progress"],
    htmlReporter: { fileName: ".cache/mutation/index.html" },
    jsonReporter: { fileName: ".cache/mutation/mutation.json" },
    tempDirName: ".stryker-tmp",
    cleanTempDir: "always",
};
