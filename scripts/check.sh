#!/bin/bash
# The static checks `npm test` runs before mocha, side by side: the TypeScript type check of the
# whole project (what pulumi's ts-node would refuse), typescript-eslint's type-aware rules, and
# Prettier's formatting. Each prints its findings; any finding fails the run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Caches under .cache/ (git-ignored) make a second run on an unchanged tree fast; a fresh clone (CI) runs in full.
mkdir -p .cache/check
node node_modules/typescript/bin/tsc --noEmit -p . --incremental --tsBuildInfoFile .cache/check/tsbuildinfo >"$out/tsc" 2>&1 &
tsc=$!
node node_modules/eslint/bin/eslint.js --max-warnings 0 --cache --cache-strategy content --cache-location .cache/check/eslint . >"$out/eslint" 2>&1 &
eslint=$!
node node_modules/prettier/bin/prettier.cjs --check --log-level warn --cache --cache-location .cache/check/prettier . >"$out/prettier" 2>&1 &
prettier=$!

status=0
report() {
  if wait "$2"; then
    echo "check: $1 clean"
  else
    status=1
    echo "check: $1 found problems:"
    sed 's/^/  /' "$out/$1"
  fi
}
report tsc "$tsc"
report eslint "$eslint"
report prettier "$prettier"
[ "$status" = 0 ] || echo "check: fix the findings above (npm run format rewrites the layout); nothing else ran"
exit "$status"
