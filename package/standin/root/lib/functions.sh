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

append() {
	# shellcheck disable=SC2034 # value and sep are read by the eval
	local var="$1" value="$2" sep="${3:- }"
	eval "$var=\${$var:+\${$var}\${value:+\$sep}}\$value"
}

list_contains() {
	local var="$1" str="$2" val
	eval "val=\" \${$var} \""
	[ "${val%% "$str" *}" != "$val" ]
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

default_postinst() {
	local root="${IPKG_INSTROOT}" filelist ret=0 i
	if [ -z "$pkgname" ]; then
		local pkgname
		pkgname="$(basename "${1%.*}")"
	fi
	filelist="$(_default_filelist "$pkgname")"

	if [ -z "$root" ]; then
		if grep -m1 -q -s "^/etc/uci-defaults/" "$filelist"; then
			[ -d /tmp/.uci ] || mkdir -p /tmp/.uci
			grep -s "^/etc/uci-defaults/" "$filelist" | while read -r i; do
				# shellcheck disable=SC1090
				( [ -f "$i" ] && cd "$(dirname "$i")" && . "$i" ) && rm -f "$i"
			done
			uci commit
		fi
		rm -f /tmp/luci-indexcache.*
	fi

	if [ -f "$root/usr/lib/opkg/info/${pkgname}.postinst-pkg" ]; then
		# shellcheck disable=SC1090
		( . "$root/usr/lib/opkg/info/${pkgname}.postinst-pkg" )
		ret=$?
	fi

	grep -s "^/etc/init.d/" "$filelist" | while read -r i; do
		if [ -n "$root" ]; then
			/bin/sh "$root/etc/rc.common" "$root$i" enable
		else
			[ "$PKG_UPGRADE" != "1" ] && "$i" enable
			"$i" start
		fi
	done
	return $ret
}

default_prerm() {
	local root="${IPKG_INSTROOT}" filelist ret=0 i
	if [ -z "$pkgname" ]; then
		local pkgname
		pkgname="$(basename "${1%.*}")"
	fi
	filelist="$(_default_filelist "$pkgname")"

	if [ -f "$root/usr/lib/opkg/info/${pkgname}.prerm-pkg" ]; then
		# shellcheck disable=SC1090
		( . "$root/usr/lib/opkg/info/${pkgname}.prerm-pkg" )
		ret=$?
	fi

	grep -s "^/etc/init.d/" "$filelist" | while read -r i; do
		if [ -n "$root" ]; then
			/bin/sh "$root/etc/rc.common" "$root$i" disable
		else
			[ "$PKG_UPGRADE" != "1" ] && "$i" disable
			"$i" stop
		fi
	done
	return $ret
}
