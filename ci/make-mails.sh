#!/bin/bash
# `make mails [AUTHOR="Name <mail>"] [SIGNOFF="Name <mail>"]`: the series as the mails
# `b4 send` would send, in build/mails (MAILS_DIR=), nothing sent.
# A b4-enrolled branch in build/mails-tree: the cover letter from cover-letter.md,
# version, prefixes and change-id from series.txt, the patches from patches/ with the
# placeholder identity replaced by the author's (and the sender's sign-off after it
# when SIGNOFF differs), To/Cc from scripts/get_maintainer.pl (b4 prep --auto-to-cc),
# b4 prep --check, then b4 send -o. The identity defaults to git's user.name and
# user.email. To send for real: cd build/mails-tree && b4 send.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${MAILS_DIR:-$BUILD/mails}
tree=$BUILD/mails-tree

identity() {
	local name email
	name=$(git -C "$REPO_DIR" config user.name || true)
	email=$(git -C "$REPO_DIR" config user.email || true)
	[ -n "$name" ] && [ -n "$email" ] && echo "$name <$email>"
}
author=${AUTHOR:-$(identity)} ||
	die "no identity: set AUTHOR=\"Your Name <you@example.org>\" or git's user.name and user.email"
signoff=${SIGNOFF:-$author}
for who in "$author" "$signoff"; do
	[[ "$who" =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>\ ]+\>$ ]] || die "not \"Name <mail>\": $who"
done

series_field() { sed -n "s/^# $1: *//p" "$REPO_DIR/series.txt"; }
version=$(series_field version)
change_id=$(series_field change-id)
prefixes=$(series_field subject-prefix | sed 's/PATCH//; s/  */ /g; s/^ //; s/ $//')
[ -n "$version" ] && [ -n "$change_id" ] || die "series.txt lacks '# version:' or '# change-id:'"
mapfile -t patches < <(series_mails)
[ ${#patches[@]} -gt 0 ] || die "patches/ holds no patches: run make"

# A fresh clone of the build tree, so that b4's configuration and branches stay there.
rm -rf "$tree" "$out"
git -c init.defaultBranch=master clone -q --shared --no-checkout "$TREE" "$tree"
g() { git -C "$tree" "$@"; }
g config user.name "${signoff% <*}"
g config user.email "$(sed 's/.*<\(.*\)>/\1/' <<<"$signoff")"
# checkpatch as the pipeline runs it (--strict). FILE_PATH_CHANGES is judged per patch
# by the checkpatch stage against ci/checkpatch-allow.txt, not here.
g config b4.prep-perpatch-check-cmd \
	"./scripts/checkpatch.pl -q --terse --no-summary --mailback --showfile --strict --ignore FILE_PATH_CHANGES"
branch=b4/${change_id#*-}
branch=${branch%-*}
g checkout -q -b "$branch" base

# The cover letter commit b4 tracks the series by: subject, body, tracking data.
json_prefixes=$(for p in $prefixes; do printf '"%s"' "$p"; done | sed 's/""/", "/g')
{
	cat "$REPO_DIR/cover-letter.md"
	cat <<-TRACK

		--- b4-submit-tracking ---
		# This section is used internally by b4 prep for tracking purposes.
		{
		  "series": {
		    "revision": $version,
		    "change-id": "$change_id",
		    "prefixes": [$json_prefixes],
		    "presubject": ""
		  }
		}
	TRACK
} | g commit -q --allow-empty -F -
g config "branch.$branch.b4-prep-cover-strategy" commit

# The patches under the author's name, signed off by the author (and the sender).
placeholder="$FIXED_NAME <$FIXED_EMAIL>"
mkdir -p "$tree.patches"
for p in "${patches[@]}"; do
	awk -v ph="$placeholder" -v au="$author" -v so="$signoff" '
		$0 == "From: " ph { print "From: " au; next }
		$0 == "Signed-off-by: " ph {
			print "Signed-off-by: " au
			if (so != au) print "Signed-off-by: " so
			next
		}
		{ print }' "$p" >"$tree.patches/$(basename "$p")"
done
g am -q --ignore-date "$tree.patches"/*.patch
rm -rf "$tree.patches"

echo "mails: b4 prep --auto-to-cc (scripts/get_maintainer.pl)"
(cd "$tree" && b4 -q prep --auto-to-cc) >"$LOGS/mails-auto-to-cc.log" 2>&1 ||
	die "b4 prep --auto-to-cc failed, see $LOGS/mails-auto-to-cc.log"
echo "mails: b4 prep --check"
(cd "$tree" && b4 prep --check) >"$LOGS/mails-check.log" 2>&1 ||
	die "b4 prep --check failed, see $LOGS/mails-check.log"
grep -q "Success: $((${#patches[@]})), Warning: 0, Error: 0" "$LOGS/mails-check.log" || {
	sed 's/\x1b\[[0-9;]*m//g' "$LOGS/mails-check.log" | grep -v '^●\|^---' >&2 || true
	die "b4 prep --check is not clean, see $LOGS/mails-check.log"
}
echo "mails: b4 send -o $out"
# Unsigned, and with an SMTP server named for this run only (b4 refuses to write
# unsigned mails for its web endpoint); -o writes the mails and sends nothing. The
# sender's own `b4 send` uses their configuration and signs with their key.
(cd "$tree" && GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=sendemail.smtpServer \
	GIT_CONFIG_VALUE_0=/usr/sbin/sendmail b4 send --no-sign -o "$out") \
	>"$LOGS/mails-send.log" 2>&1 ||
	die "b4 send -o failed, see $LOGS/mails-send.log"
echo "mails: $(ls "$out" | wc -l) mails from $signoff in $out"
