#!/bin/bash
# npm run mutation [-- STRYKER-ARGS…]: Stryker over the pure modules (stryker.config.mjs), then the
# per-module and per-file scores (scripts/mutation-scores.ts) and the wall time. Not in CI: see README,
# "Mutation testing". E.g. one module: npm run mutation -- --mutate 'units/quote.ts'
set -uo pipefail
cd "${0%/*}/.." || exit 1
start=$(date +%s)
npx stryker run "$@"
rc=$?
npx tsx scripts/mutation-scores.ts
echo "wall time: $(($(date +%s) - start)) s (stryker run $*)"
exit "$rc"
