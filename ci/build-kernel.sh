#!/bin/bash
# Configure (allnoconfig + ci/kernel.config) and build the series tree out of tree
# in build/kernel with ccache. Fails on any compiler or rustc warning, and when an
# option of the fragment does not take.
# Extra make arguments (e.g. W=1 targets) are passed through.
# KERNEL_CONFIGS: the fragments under ci/, merged in order (ci/check-debug.sh adds
# kernel-debug.config); W1=0 leaves out the W=1 CLIPPY=1 pass.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$LOGS/build-kernel.log
mkdir -p "$LOGS" "$KOUT"
LIBCLANG_PATH=$(libclang_path)
export LIBCLANG_PATH

kmake() {
	# ccache through its gcc symlinks: HOSTCC is also rustc's linker, so no "ccache gcc".
	PATH=/usr/lib/ccache:$PATH make -C "$TREE" O="$KOUT" -j"$(nproc)" "$@"
}

configure() {
	# Merge the fragments onto allnoconfig, then insist that every option took.
	local fragment=$KOUT/fragments.config missing=0 opt
	(cd "$REPO_DIR/ci" && cat ${KERNEL_CONFIGS:-kernel.config}) >"$fragment"
	KCONFIG_ALLCONFIG=$fragment kmake allnoconfig >"$LOGS/config.log" 2>&1
	while IFS= read -r opt; do
		case "$opt" in
		CONFIG_*) grep -qx "$opt" "$KOUT/.config" || {
			echo "build-kernel: $opt did not take (see $LOGS/config.log)" >&2
			missing=1
		} ;;
		esac
	done <"$fragment"
	[ "$missing" -eq 0 ] || die "the configuration is not what ${KERNEL_CONFIGS:-kernel.config} asks for"
}

# Build what ci/gen-patches.sh committed; only files that differ are rewritten.
git -C "$TREE" rev-parse -q --verify series >/dev/null ||
	die "no series branch in $TREE: run 'make' first"
git -C "$TREE" checkout -q --detach series

kmake rustavailable >"$LOGS/rustavailable.log" 2>&1 || {
	cat "$LOGS/rustavailable.log" >&2
	die "Rust is not available for this tree (rustc, RUST_LIB_SRC=$RUST_LIB_SRC, bindgen, libclang)"
}

# The Rust the series adds or changes is rustfmt-clean with the tree's configuration.
rust_changed=$(git -C "$TREE" diff --name-only base series -- '*.rs')
if [ -n "$rust_changed" ]; then
	(cd "$TREE" && rustfmt --check --config-path .rustfmt.toml $rust_changed) ||
		die "rustfmt: the series' Rust is not formatted (files: $rust_changed)"
fi

# Configure every time, as a fresh clone would: a kept .config would take the
# defaults of symbols the series adds, where allnoconfig takes "n". Kconfig
# leaves the build alone when the result does not change.
configure

echo "build-kernel: building (log: $log)"
if ! kmake "$@" >"$log" 2>&1; then
	grep -E "error|Error" "$log" | head -40 >&2
	die "kernel build failed, see $log"
fi
if grep -E "warning:|^warning" "$log" >"$LOGS/build-warnings.log"; then
	head -40 "$LOGS/build-warnings.log" >&2
	die "the kernel build warned, see $LOGS/build-warnings.log"
fi

# W=1 (C) and CLIPPY=1 (Rust) on the directories holding what the series changes;
# a warning that names a file the series changes fails the build.
changed=$(series_changed_sources)
dirs=$(series_build_dirs x86)
if [ -n "$dirs" ] && [ "${W1:-1}" = 1 ]; then
	echo "build-kernel: W=1 CLIPPY=1 on $(echo $dirs)"
	wlog=$LOGS/build-kernel-w1.log
	kmake W=1 CLIPPY=1 $dirs >"$wlog" 2>&1 || {
		grep -E "error" "$wlog" | head -40 >&2
		die "W=1 CLIPPY=1 build failed, see $wlog"
	}
	grep -E "warning|-->" "$wlog" | grep -F "$changed" >"$LOGS/w1-warnings.log" && {
		cat "$LOGS/w1-warnings.log" >&2
		die "W=1/CLIPPY=1 warnings in files the series changes, see $wlog"
	}
	# Back to the normal flags, so the image is the one the check boots.
	kmake >>"$log" 2>&1 || die "kernel rebuild failed, see $log"
fi
echo "build-kernel: $(kmake -s kernelrelease) built"
