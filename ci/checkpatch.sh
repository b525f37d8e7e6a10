#!/bin/bash
# Stage "checkpatch": scripts/checkpatch.pl --strict on every patch. A finding fails
# unless ci/checkpatch-allow.txt lists it ("<patch file> <TYPE> <reason>").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

allow=$REPO_DIR/ci/checkpatch-allow.txt
failed=0
mkdir -p "$LOGS"
rm -f "$LOGS"/checkpatch-*.log
shopt -s nullglob
for patch in "$REPO_DIR"/patches/*.patch; do
	name=$(basename "$patch")
	case "$name" in *0000-cover-letter.patch) continue ;; esac
	log=$LOGS/checkpatch-$name.log
	"$TREE/scripts/checkpatch.pl" --strict --show-types --no-tree --root="$TREE" \
		"$patch" >"$log" 2>&1 || true
	bad=0
	while read -r type; do
		if grep -qE "^$name $type " "$allow" 2>/dev/null; then
			continue
		fi
		echo "checkpatch: $name: $type (see $log)"
		bad=1
	done < <(sed -nE 's/^(ERROR|WARNING|CHECK):([A-Z_]+):.*/\2/p' "$log" | sort -u)
	if [ "$bad" -eq 0 ]; then
		record pass "checkpatch: $name"
	else
		record fail "checkpatch: $name"
		failed=1
	fi
done
[ "$failed" -eq 0 ] || die "checkpatch --strict found problems"
