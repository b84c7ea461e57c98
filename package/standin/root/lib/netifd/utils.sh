# Test stand-in for netifd's /lib/netifd/utils.sh: declaring a protocol's
# options for `init_proto ... dump`. Each option is a [name, blobmsg type]
# pair in the "config" array, as netifd expects: array 1, string 3,
# int 5, boolean 7.

# busybox ash, the only shell this runs in, has `local`.
# shellcheck disable=SC3043

append() {
	# shellcheck disable=SC2034 # value and sep are read by the eval
	local var="$1" value="$2" sep="${3:- }"
	eval "$var=\${$var:+\${$var}\${value:+\$sep}}\$value"
}

add_default_handler() {
	case "$(type "$1" 2>/dev/null)" in
	*function*) return 0 ;;
	esac
	eval "$1() { return; }"
}

_config_add_generic() {
	local type="$1" name
	shift
	for name in "$@"; do
		json_add_array ""
		json_add_string "" "$name"
		json_add_int "" "$type"
		json_close_array
	done
}

config_add_array() { _config_add_generic 1 "$@"; }
config_add_string() { _config_add_generic 3 "$@"; }
config_add_int() { _config_add_generic 5 "$@"; }
config_add_boolean() { _config_add_generic 7 "$@"; }
