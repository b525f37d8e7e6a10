#!/bin/bash
# `make bisect`: every patch of the series builds, in three configurations:
# CONFIG_KVM=m, CONFIG_KVM=y and CONFIG_RUST=n (each ci/kernel.config plus one change),
# each in its own output directory build/bisect-<name>. For developers: it takes
# three kernel builds per patch, so CI does not run it.
# PATCHES=a-b (1-based, e.g. PATCHES=11-14, or PATCHES=22): only those patches.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LIBCLANG_PATH=$(libclang_path)
export LIBCLANG_PATH
wt=$BUILD/bisect-tree
git -C "$TREE" worktree prune
[ -d "$wt" ] || git -C "$TREE" worktree add -q --detach "$wt" base

declare -A variant=(
	[kvm-m]="CONFIG_MODULES=y
CONFIG_KVM=m
CONFIG_KVM_AMD=m"
	[kvm-y]=""
	[no-rust]="CONFIG_RUST=n"
)

commits=$(git -C "$TREE" rev-list --reverse base..series)
[ -n "$commits" ] || { echo "bisect: the series has no patches"; exit 0; }
if [ -n "${PATCHES:-}" ]; then
	first=${PATCHES%-*}
	last=${PATCHES#*-}
	commits=$(echo "$commits" | sed -n "${first},${last}p")
	[ -n "$commits" ] || die "PATCHES=$PATCHES names no patch of the series"
fi
for name in kvm-m kvm-y no-rust; do
	out=$BUILD/bisect-$name
	mkdir -p "$out"
	# ci/kernel.config with the variant's symbols replaced, not reassigned.
	{
		grep -v -E "^($(echo "${variant[$name]}" | sed -n 's/=.*//p' | paste -sd'|' -))=" \
			"$REPO_DIR/ci/kernel.config"
		echo "${variant[$name]}"
	} >"$out/fragment.config"
	for c in $commits; do
		git -C "$wt" checkout -q --detach "$c"
		subject=$(git -C "$wt" log -1 --format=%s)
		log=$LOGS/bisect-$name-$(git -C "$wt" log -1 --format=%h).log
		mkdir -p "$LOGS"
		if KCONFIG_ALLCONFIG=$out/fragment.config \
			PATH=/usr/lib/ccache:$PATH make -C "$wt" O="$out" allnoconfig >"$log.config" 2>&1 &&
			PATH=/usr/lib/ccache:$PATH make -C "$wt" O="$out" -j"$(nproc)" >"$log" 2>&1 &&
			! grep -q "warning:" "$log"; then
			echo "bisect: $name: ok    $subject"
		else
			echo "bisect: $name: FAIL  $subject (log: $log)"
			exit 1
		fi
	done
done
