#!/bin/sh
# check_exports.sh - libstrata.so exports exactly the functions the public
# headers declare, each listed in the version script under one version.
#   check_exports.sh <source dir> <libstrata.so>
set -eu
src=$1 so=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$src/scripts/api_symbols.py" "$src"/include/strata/*.h > "$tmp/headers"
nm -D --defined-only "$so" | awk '$3 ~ /^strata_/ {sub(/@.*/, "", $3); print $3}' | sort -u > "$tmp/exported"
grep -o '^ *strata_[a-z0-9_]*;' "$src/src/strata.map" | tr -d ' ;' | sort > "$tmp/listed"
ok=0
diff -u "$tmp/headers" "$tmp/exported" > "$tmp/d1" || { echo "headers vs exports:"; cat "$tmp/d1"; ok=1; }
diff -u "$tmp/headers" "$tmp/listed" > "$tmp/d2" || { echo "headers vs version script:"; cat "$tmp/d2"; ok=1; }
dups=$(uniq -d "$tmp/listed")
[ -z "$dups" ] || { echo "listed under two versions: $dups"; ok=1; }
[ $ok -ne 0 ] || echo "$(wc -l < "$tmp/headers") functions exported, each under one version"
exit $ok
