#!/bin/bash
# Turn the pinned base tarball into a git repository with one reproducible commit,
# tagged "base", in the cache (done once per base version), and give this clone a
# work tree of it at build/linux.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=$NDM_CACHE/base-$BASE_VERSION/$BASE_TARBALL
[ -f "$tarball" ] || die "$tarball is missing: run ci/install-deps.sh"

make_base_repo() {
	echo "prepare-base: extracting $BASE_PACKAGE $BASE_VERSION into $BASE_GIT"
	git_repo_from_tarball "$tarball" "$BASE_GIT" "Linux $BASE_VERSION ($BASE_PACKAGE)"
}

# BASE=/path/to/linux: that git tree at BASE_REF (default HEAD) is the base instead.
if [ -n "${BASE:-}" ]; then
	commit=$(git -C "$BASE" rev-parse --verify -q "${BASE_REF:-HEAD}^{commit}") ||
		die "$BASE is not a git tree with a commit ${BASE_REF:-HEAD}"
	if [ ! -d "$TREE/.git" ]; then
		echo "prepare-base: work tree $TREE of $BASE"
		mkdir -p "$BUILD"
		git -c init.defaultBranch=master clone -q --shared --no-checkout "$BASE" "$TREE"
		git -C "$TREE" config gc.auto 0
	fi
	git -C "$TREE" fetch -q "$BASE" "$commit"
	git -C "$TREE" tag -f base "$commit" >/dev/null
	git -C "$TREE" checkout -q --detach base
	echo "prepare-base: base is $BASE at $(git -C "$TREE" log -1 --format='%h %s' base)"
	exit 0
fi

[ -d "$BASE_GIT/.git" ] || make_base_repo

if [ ! -d "$TREE/.git" ]; then
	echo "prepare-base: work tree $TREE"
	mkdir -p "$BUILD"
	git clone -q --shared --no-checkout "$BASE_GIT" "$TREE"
	git -C "$TREE" config gc.auto 0
	git -C "$TREE" checkout -q --detach base
fi
