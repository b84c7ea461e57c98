# Test stand-in for OpenWrt's /lib/functions/network.sh: only
# network_find_wan and network_find_wan6, which name the logical
# interface holding the IPv4 (IPv6) default route. Like upstream
# (__network_wan) it asks netifd, here through the ubus stand-in's answer
# to `ubus call network.interface dump`, and takes the first interface
# other than loopback with a route to 0.0.0.0/0 (::/0). Upstream reads
# the dump with jsonfilter and leaves the caller's jshn state alone; here
# jshn works in a subshell to the same effect.

# busybox ash, the only shell this runs in, has `local`.
# shellcheck disable=SC3043

. /usr/share/libubox/jshn.sh

# __network_wan_name FAMILY: prints the interface.
__network_wan_name() {
	local family="$1" dump ifaces i name routes r target mask
	dump="$(ubus call network.interface dump)" || return 1
	[ -n "$dump" ] || return 1
	json_load "$dump" || return 1
	json_is_a interface array || return 1
	json_select interface
	json_get_keys ifaces
	for i in $ifaces; do
		json_select "$i"
		json_get_var name interface
		if [ "$name" != loopback ] && json_is_a route array; then
			json_select route
			json_get_keys routes
			for r in $routes; do
				json_select "$r"
				json_get_var target target
				json_get_var mask mask
				json_select ..
				case "$family:$target:$mask" in
				4:0.0.0.0:0 | 6::::0)
					echo "$name"
					return 0
					;;
				esac
			done
			json_select ..
		fi
		json_select ..
	done
	return 1
}

__network_wan() {
	local name
	name="$(__network_wan_name "$2")" || return 1
	eval "$1=\$name"
}

network_find_wan() { __network_wan "$1" 4; }
network_find_wan6() { __network_wan "$1" 6; }
