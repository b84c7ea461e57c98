# Test stand-in for OpenWrt's /lib/functions.sh (base-files): the helpers
# package scripts call, with upstream's names and arguments.
# default_postinst and default_prerm do what upstream's do for a package
# without users, alternatives, kernel modules or sysctl files: on a running
# system (IPKG_INSTROOT empty) run and delete the package's uci-defaults,
# `uci commit`, run its postinst-pkg / prerm-pkg, then enable and start
# (or stop and disable) its init scripts; in an image build
# (IPKG_INSTROOT set) only enable or disable them, through rc.common.

# busybox ash, the only shell this runs in, has `local`.
# shellcheck disable=SC3043

debug() {
	${DEBUG:-:} "$@"
}

# append VAR VALUE [SEP]: VALUE added to the list in VAR, SEP (a space)
# between two that are not empty.
append() {
	local items
	eval "items=\${$1}"
	if [ -n "$items" ] && [ -n "$2" ]; then
		items="$items${3:- }$2"
	else
		items="$items$2"
	fi
	eval "$1=\$items"
}

# list_contains VAR WORD: WORD is one of the space-separated words in VAR.
list_contains() {
	local items
	eval "items=\${$1}"
	case " $items " in
	*" $2 "*) return 0 ;;
	esac
	return 1
}

# get_bool VALUE [DEFAULT]
get_bool() {
	case "$1" in
	1 | on | true | yes | enabled) echo 1 ;;
	0 | off | false | no | disabled) echo 0 ;;
	*) echo "$2" ;;
	esac
}

# The package's file list: opkg keeps it in /usr/lib/opkg/info, an .apk
# ships it as /lib/apk/packages/NAME.list. Under apk the scripts export
# pkgname and call default_postinst/default_prerm without arguments;
# under opkg the name comes from the script's path ($1).
_default_filelist() {
	if [ -f "${IPKG_INSTROOT}/lib/apk/packages/$1.list" ] && [ ! -e "${IPKG_INSTROOT}/usr/lib/opkg/info/$1.list" ]; then
		echo "${IPKG_INSTROOT}/lib/apk/packages/$1.list"
	else
		echo "${IPKG_INSTROOT}/usr/lib/opkg/info/$1.list"
	fi
}

# Users and groups a package asks for (Require-User): none in these
# packages, so nothing to do.
add_group_and_user() {
	:
}

# _pkg_name ARG: the package a maintainer script runs for: $pkgname
# (apk exports it), else the script's own name without its extension.
_pkg_name() {
	echo "${pkgname:-$(basename "${1%.*}")}"
}

# _pkg_hook NAME KIND: the package's own KIND script (postinst-pkg,
# prerm-pkg), if it has one, in a subshell; its status is the result.
_pkg_hook() {
	local script="${IPKG_INSTROOT}/usr/lib/opkg/info/$1.$2"
	[ -f "$script" ] || return 0
	# shellcheck disable=SC1090
	(. "$script")
}

# _pkg_uci_defaults NAME: each uci-defaults script of the package runs
# in its directory and is deleted once it succeeds; then `uci commit`.
_pkg_uci_defaults() {
	local scripts
	scripts="$(grep -s '^/etc/uci-defaults/' "$(_default_filelist "$1")")"
	[ -n "$scripts" ] || return 0
	mkdir -p /tmp/.uci
	echo "$scripts" | while read -r script; do
		# shellcheck disable=SC1090
		if [ -f "$script" ] && (cd "${script%/*}" && . "$script"); then
			rm -f "$script"
		fi
	done
	uci commit
}

# _pkg_services NAME BOOT NOW: each init script of the package gets BOOT
# (enable, disable) and NOW (start, stop); an upgrade keeps the boot
# setting, and an image build (IPKG_INSTROOT) only gets BOOT, through
# its rc.common.
_pkg_services() {
	grep -s '^/etc/init.d/' "$(_default_filelist "$1")" | while read -r script; do
		if [ -n "$IPKG_INSTROOT" ]; then
			/bin/sh "$IPKG_INSTROOT/etc/rc.common" "$IPKG_INSTROOT$script" "$2"
			continue
		fi
		[ "$PKG_UPGRADE" = 1 ] || "$script" "$2"
		"$script" "$3"
	done
}

default_postinst() {
	local name status
	name="$(_pkg_name "$1")"
	local pkgname="$name"
	if [ -z "$IPKG_INSTROOT" ]; then
		_pkg_uci_defaults "$name"
		rm -f /tmp/luci-indexcache.*
	fi
	_pkg_hook "$name" postinst-pkg
	status=$?
	_pkg_services "$name" enable start
	return $status
}

default_prerm() {
	local name status
	name="$(_pkg_name "$1")"
	local pkgname="$name"
	_pkg_hook "$name" prerm-pkg
	status=$?
	_pkg_services "$name" disable stop
	return $status
}
