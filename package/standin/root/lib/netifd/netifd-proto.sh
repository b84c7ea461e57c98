# Test stand-in for netifd's /lib/netifd/netifd-proto.sh, the library a
# protocol handler (/lib/netifd/proto/NAME.sh) sources. Same functions,
# arguments and messages as upstream: proto_init_update starts a jshn
# message, proto_add_* collect addresses, routes and prefixes, and
# proto_send_update, proto_notify_error, proto_block_restart,
# proto_setup_failed and proto_add_host_dependency send it with
# `ubus call network.interface notify_proto JSON`, which the ubus stand-in
# records for the test to read as netifd would. `init_proto NAME dump`
# prints the protocol's option declaration; setup, teardown and renew
# load netifd's config data and call proto_NAME_setup and so on.
# Left out: the proto pre-/post- hotplug calls, neighbours, DNS search.

# busybox ash, the only shell this runs in, has `local`.
# shellcheck disable=SC3043

NETIFD_MAIN_DIR="${NETIFD_MAIN_DIR:-/lib/netifd}"

. /usr/share/libubox/jshn.sh
. "$NETIFD_MAIN_DIR/utils.sh"

proto_config_add_int() { config_add_int "$@"; }
proto_config_add_string() { config_add_string "$@"; }
proto_config_add_boolean() { config_add_boolean "$@"; }
proto_config_add_array() { config_add_array "$@"; }

proto_init_update() {
	local ifname="$1" up="$2" external="$3"
	PROTO_KEEP=0
	PROTO_IPADDR=
	PROTO_IP6ADDR=
	PROTO_ROUTE=
	PROTO_ROUTE6=
	PROTO_PREFIX6=
	PROTO_DNS=
	json_init
	json_add_int action 0
	[ -n "$ifname" ] && [ "*" != "$ifname" ] && json_add_string ifname "$ifname"
	json_add_boolean "link-up" "$up"
	[ -n "$external" ] && json_add_boolean "address-external" "$external"
	return 0
}

proto_set_keep() { PROTO_KEEP="$1"; }

proto_add_nested() {
	PROTO_NESTED_OPEN=1
	json_add_object "$1"
}

proto_close_nested() {
	[ -n "$PROTO_NESTED_OPEN" ] && json_close_object
	PROTO_NESTED_OPEN=
}

proto_add_data() { proto_add_nested data; }
proto_close_data() { proto_close_nested; }

proto_add_dns_server() { append PROTO_DNS "$1"; }

proto_add_ipv4_address() { append PROTO_IPADDR "$1/$2/$3/$4"; }
proto_add_ipv6_address() { append PROTO_IP6ADDR "$1/$2/$3/$4/$5/$6"; }
proto_add_ipv4_route() { append PROTO_ROUTE "$1/$2/$3/$5///$4"; }
proto_add_ipv6_route() { append PROTO_ROUTE6 "$1/$2/$3/$4/$5/$7/$6"; }

proto_add_ipv6_prefix() {
	if [ -z "$2" ]; then
		append PROTO_PREFIX6 "$1"
	else
		append PROTO_PREFIX6 "$1,$2,${3:-$2}"
	fi
}

# _proto_fields VAR STRING: the /-separated fields of STRING into
# VAR_1, VAR_2, ...
_proto_fields() {
	local var="$1" rest="$2" n=1
	while :; do
		eval "${var}_$n=\${rest%%/*}"
		case $rest in */*) rest="${rest#*/}" ;; *) break ;; esac
		n=$((n + 1))
	done
	n=$((n + 1))
	while [ $n -le 7 ]; do
		eval "${var}_$n="
		n=$((n + 1))
	done
}

_proto_push_ipv4_addr() {
	local f_1 f_2 f_3 f_4
	_proto_fields f "$1"
	json_add_object ""
	json_add_string ipaddr "$f_1"
	[ -n "$f_2" ] && json_add_string mask "$f_2"
	[ -n "$f_3" ] && json_add_string broadcast "$f_3"
	[ -n "$f_4" ] && json_add_string ptp "$f_4"
	json_close_object
}

_proto_push_ipv6_addr() {
	local f_1 f_2 f_3 f_4 f_5 f_6
	_proto_fields f "$1"
	json_add_object ""
	json_add_string ipaddr "$f_1"
	[ -n "$f_2" ] && json_add_string mask "$f_2"
	[ -n "$f_3" ] && json_add_int preferred "$f_3"
	[ -n "$f_4" ] && json_add_int valid "$f_4"
	[ -n "$f_5" ] && json_add_boolean offlink "$f_5"
	[ -n "$f_6" ] && json_add_string class "$f_6"
	json_close_object
}

# route fields: target/mask/gateway/metric/valid/table/source
_proto_push_route() {
	local f_1 f_2 f_3 f_4 f_5 f_6 f_7
	_proto_fields f "$1"
	json_add_object ""
	json_add_string target "$f_1"
	json_add_string netmask "$f_2"
	[ -n "$f_3" ] && json_add_string gateway "$f_3"
	[ -n "$f_4" ] && json_add_int metric "$f_4"
	[ -n "$f_5" ] && json_add_int valid "$f_5"
	[ -n "$f_7" ] && json_add_string source "$f_7"
	[ -n "$f_6" ] && json_add_string table "$f_6"
	json_close_object
}

_proto_push_string() { json_add_string "" "$1"; }

_proto_push_array() {
	local name="$1" val="$2" cb="$3" item
	[ -n "$val" ] || return 0
	json_add_array "$name"
	for item in $val; do
		"$cb" "$item"
	done
	json_close_array
}

_proto_notify() {
	local interface="$1" options="$2"
	json_add_string interface "$interface"
	# shellcheck disable=SC2086 # options is zero or one word
	ubus $options call network.interface notify_proto "$(json_dump)"
}

proto_send_update() {
	proto_close_nested
	json_add_boolean keep "$PROTO_KEEP"
	_proto_push_array ipaddr "$PROTO_IPADDR" _proto_push_ipv4_addr
	_proto_push_array ip6addr "$PROTO_IP6ADDR" _proto_push_ipv6_addr
	_proto_push_array routes "$PROTO_ROUTE" _proto_push_route
	_proto_push_array routes6 "$PROTO_ROUTE6" _proto_push_route
	_proto_push_array ip6prefix "$PROTO_PREFIX6" _proto_push_string
	_proto_push_array dns "$PROTO_DNS" _proto_push_string
	_proto_notify "$1"
}

proto_notify_error() {
	local interface="$1"
	shift
	json_init
	json_add_int action 3
	json_add_array error
	while [ $# -gt 0 ]; do
		json_add_string "" "$1"
		shift
	done
	json_close_array
	_proto_notify "$interface"
}

proto_block_restart() {
	json_init
	json_add_int action 4
	_proto_notify "$1"
}

proto_set_available() {
	json_init
	json_add_int action 5
	json_add_boolean available "$2"
	_proto_notify "$1"
}

# In a subshell, as upstream: the caller's message being built survives.
proto_add_host_dependency() {
	(
		json_init
		json_add_int action 6
		json_add_string host "$2"
		[ -n "$3" ] && json_add_string ifname "$3"
		_proto_notify "$1" -S
	)
}

# netifd answers it by tearing the interface down, and a setup script
# still running is killed first (proto_ext_handler, PROTO_CMD_TEARDOWN
# in S_SETUP: SIGTERM): nothing after this call runs.
proto_setup_failed() {
	json_init
	json_add_int action 7
	_proto_notify "$1"
	kill -TERM $$
}

# The handler calls the add_protocol defined here.
# shellcheck disable=SC2317
init_proto() {
	proto="$1"
	cmd="$2"
	shift 2
	case "$cmd" in
	dump)
		add_protocol() {
			no_device=0
			no_device_config=0
			no_proto_task=0
			available=0
			renew_handler=0
			teardown_on_l3_link_down=0
			add_default_handler "proto_$1_init_config"
			json_init
			json_add_string name "$1"
			json_add_array config
			"proto_$1_init_config"
			json_close_array
			json_add_boolean no-device "$no_device"
			json_add_boolean no-device-config "$no_device_config"
			json_add_boolean no-proto-task "$no_proto_task"
			json_add_boolean available "$available"
			json_add_boolean renew-handler "$renew_handler"
			json_add_boolean lasterror "${lasterror:-0}"
			json_add_boolean teardown-on-l3-link-down "$teardown_on_l3_link_down"
			json_dump
		}
		;;
	setup | teardown | renew)
		interface="$1"
		data="$2"
		ifname="$3"
		add_protocol() {
			[ "$proto" = "$1" ] || return 0
			json_load "$data"
			"proto_$1_$cmd" "$interface" "$ifname"
		}
		;;
	esac
}
