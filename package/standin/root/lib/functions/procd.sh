# Test stand-in for procd's /lib/functions/procd.sh: the procd_* functions
# an init script calls, with upstream's names, arguments and message
# format. Like upstream, each builds its message with jshn in the "procd"
# namespace and sends it with `ubus call service set|delete|signal JSON`;
# the ubus stand-in records it, and tests read what procd would have got.
# It is the procd.sh of a procd that announces changes of service data
# (service.data.update), which has procd_add_reload_data_trigger.
# Left out: jails, validation, mount triggers, procd_running.

# busybox ash, the only shell this runs in, has `local`.
# shellcheck disable=SC3043

. "$IPKG_INSTROOT/usr/share/libubox/jshn.sh"

PROCD_RELOAD_DELAY=1000
_procd_trigger_open=0
_procd_data_open=0

# Every public function runs in the procd namespace, leaving the caller's
# own jshn message alone.
_procd_call() {
	local old
	json_set_namespace procd old
	"$@"
	json_set_namespace "$old"
}

_procd_ubus_call() {
	ubus call service "$1" "$(json_dump)"
	json_cleanup
}

# initscript is set by rc.common.
# shellcheck disable=SC2154
_procd_service_name() {
	local script
	script=$(readlink "$initscript")
	basename "${script:-$initscript}"
}

_procd_open_service() {
	_PROCD_SERVICE="$1"
	_PROCD_INSTANCE_SEQ=0
	json_init
	json_add_string name "$1"
	[ -n "$2" ] && json_add_string script "$2"
	json_add_object instances
}

_procd_close_service() {
	json_close_object
	_procd_open_trigger
	service_triggers
	_procd_close_trigger
	if type service_data >/dev/null 2>&1; then
		_procd_open_data
		service_data
		_procd_close_data
	fi
	_procd_ubus_call "${1:-set}"
}

_procd_open_instance() {
	_PROCD_INSTANCE_SEQ=$((_PROCD_INSTANCE_SEQ + 1))
	json_add_object "${1:-instance$_PROCD_INSTANCE_SEQ}"
}

# A respawn without values gets procd's defaults: threshold 3600 s,
# timeout 5 s, 5 retries (upstream reads them from /etc/config/system).
_procd_close_instance() {
	local vals _json_no_warning=1
	if json_select respawn; then
		json_get_values vals
		[ -z "$vals" ] && _procd_add_array_data 3600 5 5
		json_select ..
	fi
	json_close_object
}

_procd_add_array_data() {
	while [ "$#" -gt 0 ]; do
		json_add_string "" "$1"
		shift
	done
}

_procd_add_array() {
	json_add_array "$1"
	shift
	_procd_add_array_data "$@"
	json_close_array
}

_procd_add_table_data() {
	local var val
	while [ -n "$1" ]; do
		var="${1%%=*}"
		val="${1#*=}"
		[ "$1" = "$val" ] && val=
		json_add_string "$var" "$val"
		shift
	done
}

_procd_add_table() {
	json_add_object "$1"
	shift
	_procd_add_table_data "$@"
	json_close_object
}

_procd_set_param() {
	local type="$1"
	shift
	case "$type" in
	env | data | limits) _procd_add_table "$type" "$@" ;;
	command | netdev | file | respawn | watch | watchdog) _procd_add_array "$type" "$@" ;;
	error)
		json_add_array "$type"
		json_add_string "" "$*"
		json_close_array
		;;
	nice | term_timeout) json_add_int "$type" "$1" ;;
	reload_signal) json_add_int "$type" "$(kill -l "$1")" ;;
	pidfile | user | group | seccomp | capabilities | facility | extroot | overlaydir | tmpoverlaysize | vrf)
		json_add_string "$type" "$1"
		;;
	stdout | stderr | no_new_privs) json_add_boolean "$type" "$1" ;;
	esac
}

_procd_append_param() {
	local type="$1" _json_no_warning=1
	shift
	if ! json_select "$type"; then
		_procd_set_param "$type" "$@"
		return
	fi
	case "$type" in
	env | data | limits) _procd_add_table_data "$@" ;;
	command | netdev | file | respawn | watch | watchdog) _procd_add_array_data "$@" ;;
	error) json_add_string "" "$*" ;;
	esac
	json_select ..
}

_procd_open_trigger() {
	_procd_trigger_open=$((_procd_trigger_open + 1))
	[ "$_procd_trigger_open" -gt 1 ] && return
	json_add_array triggers
}

_procd_close_trigger() {
	_procd_trigger_open=$((_procd_trigger_open - 1))
	[ "$_procd_trigger_open" -lt 1 ] || return 0
	json_close_array
}

_procd_open_data() {
	_procd_data_open=$((_procd_data_open + 1))
	[ "$_procd_data_open" -gt 1 ] && return
	json_add_object data
}

_procd_close_data() {
	_procd_data_open=$((_procd_data_open - 1))
	[ "$_procd_data_open" -lt 1 ] || return 0
	json_close_object
}

_procd_add_timeout() {
	[ "$PROCD_RELOAD_DELAY" -gt 0 ] && json_add_int "" "$PROCD_RELOAD_DELAY"
	return 0
}

# A trigger: [EVENT, ["if", ["eq", FIELD, VALUE], ["run_script", ARGS...]], DELAY]
_procd_add_trigger() {
	local event="$1" field="$2" value="$3"
	shift 3
	json_add_array
	_procd_add_array_data "$event"
	json_add_array
	_procd_add_array_data "if"
	json_add_array
	_procd_add_array_data "eq" "$field" "$value"
	json_close_array
	json_add_array
	_procd_add_array_data "run_script" "$@"
	json_close_array
	json_close_array
	_procd_add_timeout
	json_close_array
}

_procd_add_config_trigger() {
	local event="$1" package="$2"
	shift 2
	_procd_add_trigger "$event" package "$package" "$@"
}

_procd_add_interface_trigger() {
	local event="$1" interface="$2"
	shift 2
	_procd_add_trigger "$event" interface "$interface" "$@"
}

_procd_add_reload_trigger() {
	local name file
	name=$(_procd_service_name)
	_procd_open_trigger
	for file in "$@"; do
		_procd_add_config_trigger config.change "$file" "/etc/init.d/$name" reload
	done
	_procd_close_trigger
}

_procd_add_data_trigger() {
	local name="$1"
	shift
	_procd_add_trigger service.data.update name "$name" "$@"
}

_procd_add_reload_data_trigger() {
	local name t
	name=$(_procd_service_name)
	_procd_open_trigger
	for t in "$@"; do
		_procd_add_data_trigger "$t" "/etc/init.d/$name" reload
	done
	_procd_close_trigger
}

_procd_add_reload_interface_trigger() {
	local name
	name=$(_procd_service_name)
	_procd_open_trigger
	_procd_add_interface_trigger "interface.*" "$1" "/etc/init.d/$name" reload
	_procd_close_trigger
}

# An event as if PACKAGE's configuration had been committed: procd runs
# the reload triggers of the services watching that package.
_procd_set_config_changed() {
	json_init
	json_add_string type config.change
	json_add_object data
	json_add_string package "$1"
	json_close_object
	ubus call service event "$(json_dump)"
}

_procd_kill() {
	json_init
	[ -n "$1" ] && json_add_string name "$1"
	[ -n "$2" ] && json_add_string instance "$2"
	_procd_ubus_call delete
}

_procd_send_signal() {
	local signal="$3"
	case "$signal" in
	[A-Z]*) signal="$(kill -l "$signal" 2>/dev/null)" || return 1 ;;
	esac
	json_init
	json_add_string name "$1"
	[ -n "$2" ] && [ "$2" != "*" ] && json_add_string instance "$2"
	[ -n "$signal" ] && json_add_int signal "$signal"
	_procd_ubus_call signal
}

procd_open_service() { _procd_call _procd_open_service "$@"; }
procd_close_service() { _procd_call _procd_close_service "$@"; }
procd_open_instance() { _procd_call _procd_open_instance "$@"; }
procd_close_instance() { _procd_call _procd_close_instance "$@"; }
procd_set_param() { _procd_call _procd_set_param "$@"; }
procd_append_param() { _procd_call _procd_append_param "$@"; }
procd_open_trigger() { _procd_call _procd_open_trigger "$@"; }
procd_close_trigger() { _procd_call _procd_close_trigger "$@"; }
procd_add_config_trigger() { _procd_call _procd_add_config_trigger "$@"; }
procd_add_interface_trigger() { _procd_call _procd_add_interface_trigger "$@"; }
procd_add_reload_trigger() { _procd_call _procd_add_reload_trigger "$@"; }
procd_add_reload_interface_trigger() { _procd_call _procd_add_reload_interface_trigger "$@"; }
procd_add_reload_data_trigger() { _procd_call _procd_add_reload_data_trigger "$@"; }
procd_set_config_changed() { _procd_call _procd_set_config_changed "$@"; }
procd_kill() { _procd_call _procd_kill "$@"; }
procd_send_signal() { _procd_call _procd_send_signal "$@"; }

# Unlike the others, upstream's data functions switch to the procd
# namespace at open and back at close.
procd_open_data() {
	json_set_namespace procd __procd_old_cb
	json_add_object data
}

# json_set_namespace set __procd_old_cb.
# shellcheck disable=SC2154
procd_close_data() {
	json_close_object
	json_set_namespace "$__procd_old_cb"
}
