# shellcheck shell=bash
# A private apt root for packages of other Debian releases and architectures (kernels, systemd-boot,
# source packages, arm64 binaries, certificates). Everything lives in one cache directory; the system's
# /etc/apt, its package lists and its dpkg status are never read for sources nor written. Source it from
# bash (safe under set -euo pipefail).
#
#   apt_private_init DIR [--arch=ARCH] [--src] SUITE...
#       DIR/sources.list with one line per SUITE of deb.debian.org (SUITE, or ARCHIVE/SUITE for another
#       archive there, e.g. debian-security/bookworm-security), "deb-src" lines with --src, ARCH packages
#       only with --arch; DIR/apt.conf; and the package lists, fetched again when older than a day or when
#       the configuration changed. A failed update leaves no stamp, so the next call tries again.
#   apt_private DIR apt-get|apt-cache ARG...          that tool with DIR's configuration
#   apt_private_version DIR PACKAGE SUITE             the version SUITE has of PACKAGE (empty if none)
#   apt_private_download DIR DEST PACKAGE=VERSION...  the .deb files into DEST
#
# Acquire::Check-Valid-Until=false: the archive can serve a suite's Release past its Valid-Until (sid's
# was, in a fresh Debian 12 root); the Release signature is still checked against the archive keyring.

APT_PRIVATE_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
APT_PRIVATE_MAX_AGE_MIN=1440

_apt_private_say() { echo "apt-private: $*" >&2; }

_apt_private_sources() { # TYPE ARCH SUITE...: the sources.list text
	local type=$1 arch=$2 s archive opts="signed-by=$APT_PRIVATE_KEYRING"
	shift 2
	[[ -z $arch ]] || opts="arch=$arch $opts"
	for s; do
		archive=debian
		[[ $s != */* ]] || archive=${s%%/*} s=${s#*/}
		echo "$type [$opts] http://deb.debian.org/$archive $s main"
	done
}

_apt_private_conf() { # DIR ARCH: the apt.conf text
	echo "Dir::Etc::sourcelist \"$1/sources.list\";"
	echo 'Dir::Etc::sourceparts "-";'
	echo "Dir::State::lists \"$1/lists\";"
	echo "Dir::State::status \"$1/status\";"
	echo "Dir::Cache \"$1/cache\";"
	# Kept even where the system's apt.conf.d turns them off (Debian's container images): without them
	# every query parses all lists again.
	echo 'Dir::Cache::pkgcache "pkgcache.bin";'
	echo 'Dir::Cache::srcpkgcache "srcpkgcache.bin";'
	echo 'APT::Sandbox::User "root";'
	echo 'Acquire::Check-Valid-Until "false";'
	[[ -z $2 ]] || printf 'APT::Architecture "%s";\nAPT::Architectures "%s";\n' "$2" "$2"
}

_apt_private_write() { # FILE TEXT: write TEXT to FILE unless it holds it already; status 1 if it changed
	[[ -f $1 && $(<"$1") == "$2" ]] && return 0
	printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
	return 1
}

_apt_private_update() { # DIR SOURCES CONF: under DIR/init.lock
	local dir=$1 out changed=0 had_conf=0
	[[ ! -f $dir/apt.conf ]] || had_conf=1
	_apt_private_write "$dir/sources.list" "$2" || changed=1
	# A root made before apt.conf existed keeps its lists when its sources are the same.
	_apt_private_write "$dir/apt.conf" "$3" || changed=$((changed | had_conf))
	((changed == 0)) || rm -f "$dir/updated"
	[[ -n $(find "$dir/updated" -mmin -"$APT_PRIVATE_MAX_AGE_MIN" 2>/dev/null) ]] && return 0
	rm -f "$dir/updated"
	if ! out=$(apt_private "$dir" apt-get -q update 2>&1); then
		printf '%s\n' "$out" >&2
		_apt_private_say "apt-get update with $dir/sources.list failed"
		return 1
	fi
	# apt dates the lists by the archive's clock, so a stamp of our own says when they were fetched.
	touch "$dir/updated"
}

apt_private_init() {
	local dir=$1 arch="" type=deb lock rc=0
	shift
	while [[ ${1:-} == --* ]]; do
		case $1 in
		--arch=*) arch=${1#--arch=} ;;
		--src) type=deb-src ;;
		*)
			_apt_private_say "unknown option $1"
			return 2
			;;
		esac
		shift
	done
	(($# > 0)) || { _apt_private_say "$dir: no suite given"; return 2; }
	[[ $dir == /* && $dir != *[\"$'\n']* ]] || { _apt_private_say "$dir: needs an absolute path without quotes"; return 2; }
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	: >>"$dir/status"
	exec {lock}>"$dir/init.lock"
	flock -w 1800 "$lock" || { _apt_private_say "$dir/init.lock: held by another update for 30 minutes"; rc=1; }
	((rc != 0)) || _apt_private_update "$dir" "$(_apt_private_sources "$type" "$arch" "$@")" \
		"$(_apt_private_conf "$dir" "$arch")" || rc=1
	exec {lock}>&-
	return "$rc"
}

apt_private() {
	local dir=$1 tool=$2
	[[ -f $dir/apt.conf ]] || { _apt_private_say "$dir/apt.conf: missing (apt_private_init first)"; return 1; }
	shift 2
	"$tool" -c "$dir/apt.conf" "$@"
}

apt_private_version() {
	apt_private "$1" apt-cache madison "$2" | awk -v s="$3/" 'index($6, s) == 1 && !n++ { print $3 }'
}

apt_private_download() {
	local dir=$1 dest=$2 out
	shift 2
	if ! out=$(cd "$dest" && apt_private "$dir" apt-get -q download "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		_apt_private_say "apt-get download $* with $dir/sources.list failed"
		return 1
	fi
}
