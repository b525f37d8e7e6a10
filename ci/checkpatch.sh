#!/bin/bash
# Stage "checkpatch": scripts/checkpatch.pl --strict on every patch. A finding fails
# unless ci/checkpatch-allow.txt lists it as "TYPE | patch subject | why it is right".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

allow=$REPO_DIR/ci/checkpatch-allow.txt
failed=0
mkdir -p "$LOGS"
rm -f "$LOGS"/checkpatch-*.log

# The subject of a mail, unfolded and without its [PATCH ...] tag.
subject_of() {
	awk '/^Subject: / { s = $0; getline; while ($0 ~ /^ /) { s = s $0; getline } print s; exit }' "$1" |
		sed -E 's/^Subject: \[[^]]*\] //'
}

allowed() {
	local type=$1 subject=$2
	grep -v '^#' "$allow" | awk -F' [|] ' -v t="$type" -v s="$subject" \
		'$1 == t && $2 == s { found = 1 } END { exit !found }'
}

for patch in $(series_mails); do
	name=$(basename "$patch")
	log=$LOGS/checkpatch-$name.log
	subject=$(subject_of "$patch")
	"$TREE/scripts/checkpatch.pl" --strict --show-types --no-tree --root="$TREE" \
		"$patch" >"$log" 2>&1 || true
	bad=0
	while read -r type; do
		allowed "$type" "$subject" && continue
		echo "checkpatch: $name: $type (see $log)"
		bad=1
	done < <(sed -nE 's/^(ERROR|WARNING|CHECK):([A-Z_]+):.*/\2/p' "$log" | sort -u)
	if [ "$bad" -eq 0 ]; then
		record pass "checkpatch: $subject"
	else
		record fail "checkpatch: $subject"
		failed=1
	fi
done
[ "$failed" -eq 0 ] || die "checkpatch --strict found problems"
