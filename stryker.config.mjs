// Mutation testing of the pure modules: `npm run mutation` (not in CI: about an hour on 2 cores).
// Stryker plants one small bug at a time in the modules below and runs the mocha tests that cover it;
// a mutant no test notices "survives". Reports go to .cache/mutation/ (git-ignored); the per-module
// scores are printed at the end. An equivalent mutant (one no test can tell apart) is disabled where
// it stands, with `// Stryker disable next-line <mutator>: <why>` — never by narrowing the mutators.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
    packageManager: "npm",
    testRunner: "mocha",
    testRunnerNodeArgs: ["--import", "tsx"],
    mochaOptions: {
        config: ".mocharc.json",
        // The fast tests of the pure modules; boots, child-process plans and CLI runs would not see an
        // in-process mutant anyway (a child process runs the code without the active mutant).
        spec: [
            "test/quote.test.ts",
            "test/systemd.test.ts",
            "test/validate.test.ts",
            "test/codes.test.ts",
            "test/cloudconfig.test.ts",
            "test/cloudinit.test.ts",
            "test/userdata.test.ts",
            "test/config.test.ts",
            "test/pack.test.ts",
            "test/decide.test.ts",
            "test/mutation/*.test.ts",
        ],
    },
    checkers: ["typescript"],
    tsconfigFile: "tsconfig.json",
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    coverageAnalysis: "perTest",
    mutate: [
        "units/**/*.ts",
        "!units/index.ts",
        "formats/**/*.ts",
        "!formats/**/index.ts",
        "packing/**/*.ts",
        "config.ts",
        "scripts/diff/decide.ts",
    ],
    ignorePatterns: [".cache", "out", "build", ".stryker-tmp"],
    concurrency: 2,
    timeoutMS: 60000,
    reporters: ["html", "json", "clear-text", "progress"],
    htmlReporter: { fileName: ".cache/mutation/index.html" },
    jsonReporter: { fileName: ".cache/mutation/mutation.json" },
    tempDirName: ".stryker-tmp",
    cleanTempDir: "always",
};
