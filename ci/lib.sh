# Common settings for the ci/ scripts; sourced, never run.
# Reads ci/versions.env and names the directories every stage shares.

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

while IFS='=' read -r key value; do
	case "$key" in
	'' | '#'*) continue ;;
	esac
	export "$key=$value"
done <"$REPO_DIR/ci/versions.env"

# Outside the clone, so that a fresh clone (CI) reuses downloads, the base and ccache.
export NDM_CACHE=${NDM_CACHE:-/var/cache/ndm-series}
export DOWNLOADS=$NDM_CACHE/downloads
export BASE_GIT=$NDM_CACHE/base-$BASE_VERSION/linux
export TOOLS=$NDM_CACHE/tools
export VENV=$TOOLS/venv
export RUST_LIB_SRC=$TOOLS/rust-src-$RUST_SRC_VERSION/usr/src/rustc-$RUSTC_VERSION/library
export CARGO_BIN=$TOOLS/cargo/bin
export CCACHE_DIR=$NDM_CACHE/ccache

# Inside the clone, ignored by git.
# With BASE=/path/to/linux (`make check BASE=`), the series is proven on that git tree
# instead of the pinned base, in a build directory of its own.
if [ -n "${BASE:-}" ]; then
	BASE=$(cd "$BASE" && pwd)
	export BASE
	export BUILD=${BUILD:-$REPO_DIR/build/on-$(echo "$BASE ${BASE_REF:-HEAD}" | md5sum | cut -c1-8)}
else
	export BUILD=${BUILD:-$REPO_DIR/build}
fi
export LOGS=$BUILD/logs
export TREE=${TREE:-$BUILD/linux}
export KOUT=${KOUT:-$BUILD/kernel}

# virtme-ng mounts tmpfs over /tmp and /var/tmp in its guest, which hides a clone (or a
# build directory) there: vng_shares fills the array "shares" with the --rwdir options
# that show them to the guest again at the same path.
vng_shares() {
	local d
	shares=()
	for d in "$REPO_DIR" "$BUILD"; do
		case "$d/" in
		/tmp/* | /var/tmp/*) shares+=("--rwdir=$d") ;;
		esac
	done
}

export CCACHE_BASEDIR=$REPO_DIR
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=10G
# rustup's toolchain, also when the caller's PATH lacks it (CI).
export PATH=$CARGO_BIN:$VENV/bin:${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:/usr/sbin:/sbin:$PATH

libclang_path() {
	"$VENV/bin/python3" -c 'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))'
}

# git_repo_from_tarball TARBALL DIR MESSAGE: DIR becomes a git repository holding the
# kernel tarball as one reproducible commit, tagged "base" (built aside, then moved).
git_repo_from_tarball() {
	local tarball=$1 dir=$2 message=$3 tmp=$2.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -xf "$tarball" -C "$tmp" --strip-components=1
	git -C "$tmp" init -q -b base-branch
	git -C "$tmp" config gc.auto 0
	# -f: the tarball is the base as shipped, including files the kernel's .gitignore names.
	git -C "$tmp" add -A -f
	git_fixed -C "$tmp" commit -q -m "$message"
	git -C "$tmp" tag base
	mv "$tmp" "$dir"
}

# git with the fixed identity and date of ci/versions.env, for reproducible commits.
git_fixed() {
	GIT_AUTHOR_NAME=$FIXED_NAME GIT_AUTHOR_EMAIL=$FIXED_EMAIL GIT_AUTHOR_DATE=$FIXED_DATE \
		GIT_COMMITTER_NAME=$FIXED_NAME GIT_COMMITTER_EMAIL=$FIXED_EMAIL \
		GIT_COMMITTER_DATE=$FIXED_DATE git "$@"
}

# The kernel path of a source: its repository path without the first directory,
# and for a .diff source without the "@tag" and ".diff" (see README.md).
kernel_path() {
	local p=${1#*/}
	case "$p" in
	*.diff) p=${p%.diff}; p=${p%@*} ;;
	esac
	echo "$p"
}

# The kernel sources (C, headers, Rust) the series changes, tools/ aside.
series_changed_sources() {
	git -C "$TREE" diff --name-only base series -- '*.c' '*.h' '*.rs' ':!tools/'
}

# The make targets (directories) that build what the series changes for ARCH
# ($1: x86 or arm64). virt/kvm/ is built through arch/$1/kvm/; headers and
# other architectures' files are left out.
series_build_dirs() {
	local f
	for f in $(series_changed_sources); do
		case "$f" in
		virt/kvm/* | arch/"$1"/kvm/*) echo "arch/$1/kvm/" ;;
		include/* | arch/*) ;;
		*) echo "$(dirname "$f")/" ;;
		esac
	done | sort -u
}

# The patch mails of patches/, cover letter excluded.
series_mails() {
	local m
	for m in "$REPO_DIR"/patches/*.patch; do
		case "$m" in *0000-cover-letter.patch | *'*.patch') ;; *) echo "$m" ;; esac
	done
}

# am_report DIR PATCH...: git am -3 each patch onto the work tree DIR, one line per
# patch: "applied", "applied with 3-way merge" or "CONFLICT" with the files that do
# not apply. Stops at the first patch that does not apply (DIR is left at the last
# one that did) and returns 1; with KEEP_GOING=1 skips it, goes on, and returns 1
# at the end.
am_report() {
	local dir=$1 p n=0 total out files name failed=0
	shift
	total=$#
	for p in "$@"; do
		n=$((n + 1))
		name=$(basename "$p" .patch)
		if out=$(git -C "$dir" -c user.name="${GIT_AUTHOR_NAME:-ndm apply}" \
			-c user.email="${GIT_AUTHOR_EMAIL:-apply@invalid}" am -3 "$p" 2>&1); then
			if grep -q "Falling back to patching base and 3-way merge" <<<"$out"; then
				echo "  [$n/$total] applied with 3-way merge: $name"
			else
				echo "  [$n/$total] applied: $name"
			fi
			continue
		fi
		# The conflicts of the 3-way merge; without the blobs for one (a tree of
		# other history), the files whose hunks do not apply.
		files=$(git -C "$dir" diff --name-only --diff-filter=U)
		[ -n "$files" ] || files=$(git -C "$dir" apply --check "$p" 2>&1 | sed -n \
			-e 's/^error: \(.*\): patch does not apply$/\1/p' \
			-e 's/^error: \(.*\): does not exist in index$/\1/p' \
			-e 's/^error: \(.*\): already exists in working directory$/\1/p' | sort -u)
		echo "  [$n/$total] CONFLICT: $name"
		echo "        in: $(echo ${files:-"(git am: $(tail -1 <<<"$out"))"})"
		failed=1
		if [ "${KEEP_GOING:-0}" = 1 ]; then
			git -C "$dir" am --skip >/dev/null 2>&1 || true
			continue
		fi
		git -C "$dir" am --abort >/dev/null 2>&1 || true
		return 1
	done
	return "$failed"
}

die() {
	echo "error: $*" >&2
	exit 1
}

# One line per checked thing, read by ci/summary.py: "pass|fail|skip<TAB>name".
export RESULTS=$BUILD/results.tsv

record() {
	mkdir -p "$BUILD"
	printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
}

# The Debian mirror this machine already uses for bookworm: every suite the pipeline
# adds comes from it, so the repository names no host of its own.
debian_mirror() {
	local uri
	uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' \
		/etc/apt/sources.list.d/debian.sources)
	[ -n "$uri" ] || die "no bookworm mirror found in /etc/apt/sources.list.d/debian.sources"
	echo "$uri"
}

# build_on_selftest_lib SOURCE... : build programs that are not part of the series
# (bench/, debug/) in the series' KVM selftest directory, for its library and
# headers, into $OUT; $LOG gets the output. The sources are taken out again.
build_on_selftest_lib() {
	local kvm_dir=$TREE/tools/testing/selftests/kvm src names=() rc=0
	make -C "$TREE" O="$KOUT" headers >"$LOG" 2>&1 || die "make headers failed, see $LOG"
	for src in "$@"; do
		cp "$src" "$kvm_dir/"
		names+=("$(basename "$src" .c)")
	done
	make -C "$kvm_dir" OUTPUT="$OUT" KHDR_INCLUDES="-isystem $KOUT/usr/include" \
		TEST_GEN_PROGS_x86="${names[*]}" TEST_PROGS_x86= -j"$(nproc)" >>"$LOG" 2>&1 || rc=$?
	for src in "$@"; do
		rm -f "$kvm_dir/$(basename "$src")"
	done
	[ "$rc" -eq 0 ] || die "building ${names[*]} failed, see $LOG"
	! grep -q "warning:" "$LOG" || die "building ${names[*]} warned, see $LOG"
}

# stage NAME blocking|independent COMMAND...: one stage of `make check` (or
# check-debug): its output also in $LOGS/stage-NAME.log, its result recorded.
# A blocking stage that fails stops the stages after it.
stage_stopped=0
stage() {
	local name=$1 kind=$2 start rc=0
	shift 2
	[ "$stage_stopped" -eq 0 ] || return 0
	echo "==> $name"
	start=$(date +%s)
	"$@" 2>&1 | tee "$LOGS/stage-$name.log" || rc=$?
	local took=$(($(date +%s) - start))
	echo "$name $took" >>"$LOGS/times.txt"
	if [ "$rc" -eq 0 ]; then
		record pass "stage $name"
		echo "<== $name: ok (${took} s)"
	else
		record fail "stage $name"
		echo "<== $name: FAILED (${took} s, log: $LOGS/stage-$name.log)"
		[ "$kind" = independent ] || stage_stopped=1
	fi
}
