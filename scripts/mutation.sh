#!/bin/bash
# npm run mutation [-- STRYKER-ARGS…]: Stryker over the pure modules (stryker.config.mjs), then the
# per-module and per-file scores (scripts/mutation-scores.ts) and the wall time. Not in CI: see README,
# "Mutation testing". E.g. one module: npm run mutation -- --mutate 'units/**/*.ts'
#
# With --mutate, the TypeScript checker's project holds only those files (and what they import):
# the checker re-checks every file that imports a mutated one, for each mutant, and on 2 cores that
# checking, not the tests, is most of a run (units/: about 75% of a core for the checker, under 10%
# for the test runner).
set -uo pipefail
cd "${0%/*}/.." || exit 1
start=$(date +%s)
args=("$@")
mutate=""
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
    --mutate | -m) mutate="${args[i + 1]:-}" ;;
    --mutate=*) mutate="${args[i]#--mutate=}" ;;
    esac
done
if [[ -n "$mutate" ]]; then
    # tsconfig.mutation.run.json (git-ignored): tsconfig.mutation.json with only the files mutated.
    node -e '
        const include = process.argv[1].split(",").map((s) => s.trim()).filter(Boolean);
        require("fs").writeFileSync("tsconfig.mutation.run.json", JSON.stringify({ extends: "./tsconfig.mutation.json", include }, null, 2) + "\n");
    ' "$mutate"
    export COREOS_CONTAINERS_MUTATION_TSCONFIG=tsconfig.mutation.run.json
fi
npx stryker run "${args[@]}"
rc=$?
npx tsx scripts/mutation-scores.ts
echo "wall time: $(($(date +%s) - start)) s (stryker run $*)"
exit "$rc"
