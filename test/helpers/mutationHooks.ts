// Loaded by Stryker only (stryker.config.mjs, mochaOptions.require): a mocha root-hook plugin that
// gives the code a suite runs in its `before` hooks to every test of that suite.
//
// Stryker's mocha runner learns which tests cover a mutant ("perTest" coverage) from a root
// `beforeEach` that sets `__stryker__.currentTestId` to the test about to run, and never clears it
// (@stryker-mutator/mocha-runner 9.6, mocha-test-runner.js dryRun). So what a suite's `before` hook
// executes — e.g. rendering every unit once and loading them all into `systemd --test` — is counted
// for whichever test ran last, often in another file, and a mutant there runs that unrelated test
// only and survives. Here each `before` hook of every suite runs under a test id of its own, and its
// coverage is then added to every test of the suite (and of the suites inside it): a mutant in that
// code runs the tests that read what the hook computed. Mutant runs are unchanged (the hook runs
// whenever one of its suite's tests is selected).
import type { Context, Hook, Suite } from "mocha";

interface StrykerCoverage {
    static: Record<string, number>;
    perTest: Record<string, Record<string, number> | undefined>;
}

interface StrykerNamespace {
    currentTestId?: string;
    mutantCoverage?: StrykerCoverage;
}

function strykerNamespace(): StrykerNamespace | undefined {
    return (globalThis as { __stryker__?: StrykerNamespace }).__stryker__;
}

function testsOf(suite: Suite): string[] {
    return [...suite.tests.map((t) => t.fullTitle()), ...suite.suites.flatMap(testsOf)];
}

function shareHookCoverage(suite: Suite, hook: Hook, index: number): void {
    const original = hook.fn;
    // A hook written with a `done` callback keeps mocha's callback contract: left as it is.
    if (original === undefined || original.length > 0) return;
    const hookId = `stryker-before-hook:${suite.fullTitle()}#${index}`;
    hook.fn = function (this: Context) {
        const ns = strykerNamespace();
        const previous = ns?.currentTestId;
        if (ns) ns.currentTestId = hookId;
        const share = (): void => {
            if (!ns) return;
            ns.currentTestId = previous;
            const coverage = ns.mutantCoverage;
            const hit = coverage?.perTest[hookId];
            if (!coverage || !hit) return;
            delete coverage.perTest[hookId];
            for (const test of testsOf(suite)) {
                const into = (coverage.perTest[test] ??= {});
                for (const [mutant, count] of Object.entries(hit)) into[mutant] = (into[mutant] ?? 0) + count;
            }
        };
        let result: unknown;
        try {
            result = (original as (this: Context) => unknown).call(this);
        } catch (error) {
            share();
            throw error;
        }
        if (result instanceof Promise) return result.finally(share);
        share();
        return result;
    };
}

function wrapSuites(suite: Suite): void {
    // `_beforeAll` is mocha's list of a suite's `before` hooks (mocha 11, lib/suite.js).
    const hooks = (suite as unknown as { _beforeAll: Hook[] })._beforeAll;
    hooks.forEach((hook, index) => shareHookCoverage(suite, hook, index));
    suite.suites.forEach(wrapSuites);
}

let wrapped = false;

export const mochaHooks = {
    beforeAll(this: Context): void {
        if (wrapped) return;
        wrapped = true;
        let root: Suite | undefined = this.test?.parent;
        while (root?.parent) root = root.parent;
        if (root) wrapSuites(root);
    },
};
