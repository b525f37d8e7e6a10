#!/bin/bash
# `make other-base PKG=linux-source-7.2[=VERSION]`: another kernel to try the series on,
# from Debian's sid or experimental (the newest version there unless one is given).
# Downloaded and made a git repository with one commit, tagged "base", in the cache,
# once per version. Prints the repository's path, for `make apply BASE=<path>`.
# Uses a private apt configuration: the machine's own apt sources stay as they are.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

spec=${1:?usage: fetch-other-base.sh PACKAGE[=VERSION]}
name=${spec%%=*}
case "$name" in
linux-source-*) ;;
*) die "$name is not a linux-source-* package" ;;
esac

apt_dir=$NDM_CACHE/other-bases/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
uri=$(debian_mirror)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list" <<-LIST
	deb [signed-by=$keyring] $uri sid main
	deb [signed-by=$keyring] $uri experimental main
LIST
apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir"
	-o "Dir::Cache::Archives=$apt_dir/archives" -o APT::Sandbox::User=root
)
# Indexes older than a day are fetched again.
if [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 -print -quit)" ]; then
	apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update (sid, experimental) failed"
fi

if [ "$spec" = "$name" ]; then
	version=$(apt-cache "${apt_opts[@]}" policy "$name" | awk '/Candidate:/ { print $2 }')
	[ -n "$version" ] && [ "$version" != "(none)" ] || die "no $name in sid or experimental"
else
	version=${spec#*=}
fi

repo=$NDM_CACHE/other-bases/$name-$version/linux
if [ ! -d "$repo/.git" ]; then
	echo "other-base: $name $version" >&2
	(cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" -qq download "$name=$version" >&2) ||
		die "download of $name=$version failed"
	deb=$(ls "$apt_dir"/archives/"${name}_${version//:/%3a}"_*.deb)
	unpacked=$repo.deb
	rm -rf "$unpacked"
	mkdir -p "$unpacked" "$(dirname "$repo")"
	dpkg-deb -x "$deb" "$unpacked"
	git_repo_from_tarball "$unpacked/usr/src/$name.tar.xz" "$repo" "Linux $version ($name)"
	rm -rf "$unpacked" "$deb"
fi
echo "$repo"
