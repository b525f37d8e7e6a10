#!/bin/bash
# Install everything the pipeline needs, once: apt suites and packages, QEMU,
# the pinned base tarball, Rust's std sources, bindgen, libclang, virtme-ng and b4.
# Idempotent: prints one line per thing it had to install, nothing when all is there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
	build-essential flex bison bc libelf-dev libssl-dev kmod cpio busybox-static
	ccache udev rsync xz-utils python3-venv git perl dwarves
	libnuma-dev liburing-dev libcap-dev pkg-config gcc-aarch64-linux-gnu
)
APT_LIST=/etc/apt/sources.list.d/ndm-series.sources
APT_PIN=/etc/apt/preferences.d/ndm-series

say() { echo "install-deps: $*" >&2; }

# Run a noisy installer; show its output only if it fails.
quietly() {
	local out
	out=$(mktemp)
	if ! "$@" >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		die "failed: $*"
	fi
	rm -f "$out"
}

# Reuse the mirror the machine already uses for bookworm; write no host name of our own.
add_apt_suites() {
	[ -f "$APT_LIST" ] && return 0
	local uri
	uri=$(debian_mirror)
	say "adding $BASE_SUITE and $QEMU_SUITE from $uri"
	cat >"$APT_LIST" <<-SRC
		Types: deb
		URIs: $uri
		Suites: $QEMU_SUITE $BASE_SUITE
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	SRC
	# Nothing is installed from trixie-backports: packages are only downloaded from it.
	cat >"$APT_PIN" <<-PIN
		Package: *
		Pin: release n=$BASE_SUITE
		Pin-Priority: 1
	PIN
	rm -f "$NDM_CACHE/.apt-updated"
}

apt_update_once() {
	mkdir -p "$NDM_CACHE"
	[ -f "$NDM_CACHE/.apt-updated" ] && return 0
	say "apt-get update"
	quietly apt-get update
	touch "$NDM_CACHE/.apt-updated"
}

install_apt_packages() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_update_once
	say "apt-get install ${missing[*]}"
	quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# QEMU for x86 (make check) and arm64 (make check-arm64), of the same version.
install_qemu() {
	local q ok=1
	for q in qemu-system-x86_64 qemu-system-aarch64; do
		command -v "$q" >/dev/null && "$q" --version | grep -q "version 10\." || ok=0
	done
	[ "$ok" -eq 0 ] || return 0
	apt_update_once
	say "apt-get install qemu-system-x86 qemu-system-arm from $QEMU_SUITE"
	quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -t "$QEMU_SUITE" \
		qemu-system-x86 qemu-system-arm
}

# Fetch a .deb of an exact version into the download cache; print its path.
fetch_deb() {
	local pkg=$1 version=$2 deb
	deb=$(find "$DOWNLOADS" -maxdepth 1 -name "${pkg}_*.deb" 2>/dev/null |
		grep -F "_${version//:/%3a}_" | head -n 1 || true)
	if [ -z "$deb" ]; then
		apt_update_once
		say "downloading $pkg=$version"
		mkdir -p "$DOWNLOADS"
		(cd "$DOWNLOADS" && quietly apt-get download -o APT::Sandbox::User=root "$pkg=$version")
		deb=$(find "$DOWNLOADS" -maxdepth 1 -name "${pkg}_*.deb" |
			grep -F "_${version//:/%3a}_" | head -n 1)
	fi
	echo "$deb"
}

install_base_tarball() {
	local dir=$NDM_CACHE/base-$BASE_VERSION tarball deb sum
	tarball=$dir/$BASE_TARBALL
	if [ ! -f "$tarball" ]; then
		deb=$(fetch_deb "$BASE_PACKAGE" "$BASE_VERSION")
		mkdir -p "$dir"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" "./$BASE_TARBALL"
	fi
	if [ ! -f "$dir/.sha256-ok" ]; then
		sum=$(sha256sum "$tarball" | cut -d' ' -f1)
		[ "$sum" = "$BASE_SHA256" ] ||
			die "$BASE_PACKAGE $BASE_VERSION: sha256 of $BASE_TARBALL is $sum, ci/versions.env pins $BASE_SHA256"
		touch "$dir/.sha256-ok"
	fi
}

install_rust_src() {
	local have deb
	have=$(rustc --version | cut -d' ' -f2)
	[ "$have" = "$RUSTC_VERSION" ] ||
		die "rustc is $have, ci/versions.env pins $RUSTC_VERSION (and rust-src $RUST_SRC_VERSION to match)"
	for component in rustfmt clippy; do
		rustup component list --installed | grep -q "^$component" ||
			quietly rustup component add "$component"
	done
	[ -d "$RUST_LIB_SRC/core" ] && return 0
	deb=$(fetch_deb rust-src "$RUST_SRC_VERSION")
	say "extracting rust-src $RUST_SRC_VERSION"
	mkdir -p "$TOOLS/rust-src-$RUST_SRC_VERSION"
	dpkg -x "$deb" "$TOOLS/rust-src-$RUST_SRC_VERSION"
	[ -d "$RUST_LIB_SRC/core" ] || die "rust-src $RUST_SRC_VERSION has no $RUST_LIB_SRC/core"
}

install_bindgen() {
	if [ -x "$CARGO_BIN/bindgen" ] &&
		"$CARGO_BIN/bindgen" --version | grep -qF "$BINDGEN_VERSION"; then
		return 0
	fi
	say "cargo install bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
	quietly cargo install --locked --root "$TOOLS/cargo" bindgen-cli --version "$BINDGEN_VERSION"
}

install_venv() {
	local want=("virtme-ng==$VIRTME_NG_VERSION" "b4==$B4_VERSION" "libclang==$LIBCLANG_WHEEL_VERSION"
		"ply==$PLY_VERSION" "GitPython==$GITPYTHON_VERSION")
	local stamp=$VENV/.ndm-$(echo "${want[@]}" | md5sum | cut -c1-12)
	[ -f "$stamp" ] && return 0
	say "python venv with ${want[*]}"
	mkdir -p "$TOOLS"
	python3 -m venv "$VENV"
	quietly "$VENV/bin/pip" install --disable-pip-version-check "${want[@]}"
	touch "$stamp"
}

add_apt_suites
install_apt_packages
install_qemu
install_base_tarball
install_rust_src
install_bindgen
install_venv
