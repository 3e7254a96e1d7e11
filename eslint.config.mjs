// Lint: typescript-eslint's type-aware recommended rules over every TypeScript file of the project,
// and Prettier for layout (eslint-config-prettier turns off the rules that would fight it).
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "out/", "build/", ".cache/", ".stryker-tmp/", "eslint.config.mjs", "stryker.config.mjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { project: "./tsconfig.json", tsconfigRootDir: import.meta.dirname },
        },
        linterOptions: { reportUnusedDisableDirectives: "error" },
        rules: {
            // A promise nobody awaits loses its error: every one is awaited, returned or marked `void`.
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            "@typescript-eslint/consistent-type-imports": "off",
            eqeqeq: ["error", "always"],
        },
    },
    {
        // Tests: mocha's `this` and chai-less asserts; `any` for reading JSON plans stays explicit.
        files: ["test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unused-expressions": "off",
        },
    },
    prettier,
);
