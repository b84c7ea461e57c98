# Test stand-in for libubox's /usr/share/libubox/jshn.sh: the shell JSON
# API that netifd's and procd's shell libraries build their messages with.
# Same function names and calling conventions as upstream (json_init,
# json_add_*, json_select, json_get_*, json_load, json_dump, namespaces);
# the storage is this file's own. json_load asks the `jshn` stand-in
# (package/standin/jshn) to turn JSON into json_add_* calls, as upstream's
# jshn.sh asks the jshn binary. Strings may hold any text; control
# characters other than newline, tab and carriage return are not escaped.
#
# Storage, every name prefixed with $JSON_PREFIX (json_set_namespace):
#   JSON_CUR     the table being built or read
#   JSON_SEQ     tables made so far (names J_T1, J_T2, ...; J_V is the root)
#   TY_<t>       object or array
#   U_<t>        parent table
#   K_<t>        keys in order, as variable-safe words
#   C_<t>        items in an array so far
#   T_<t>_<k>    type of key k: string int double boolean null object array
#   N_<t>_<k>    the key as given
#   V_<t>_<k>    value; for object and array the child table's name

# busybox ash, the only shell this runs in, has `local`; the recursive
# dump needs it.
# shellcheck disable=SC3043

_jshn_nl='
'
_jshn_tab='	'
_jshn_cr=$(printf '\r')

_jshn_get() { eval "$1=\"\${${JSON_PREFIX}$2}\""; }
_jshn_set() { eval "${JSON_PREFIX}$1=\$2"; }
_jshn_isset() { eval "[ -n \"\${${JSON_PREFIX}$1+x}\" ]"; }

# _jshn_key NAME: sets _jshn_k to NAME as a word that fits a variable name.
_jshn_key() {
	case $1 in
	'' | *[!A-Za-z0-9_]*) _jshn_k=$(printf '%s' "$1" | tr -c 'A-Za-z0-9_' '_') ;;
	*) _jshn_k=$1 ;;
	esac
	[ -n "$_jshn_k" ] || _jshn_k=_
}

_jshn_unset_table() {
	local t="$1" keys k ty v
	_jshn_get keys "K_$t"
	for k in $keys; do
		_jshn_get ty "T_${t}_$k"
		_jshn_get v "V_${t}_$k"
		case $ty in object | array) _jshn_unset_table "$v" ;; esac
		unset "${JSON_PREFIX}T_${t}_$k" "${JSON_PREFIX}N_${t}_$k" "${JSON_PREFIX}V_${t}_$k"
	done
	unset "${JSON_PREFIX}K_$t" "${JSON_PREFIX}U_$t" "${JSON_PREFIX}TY_$t" "${JSON_PREFIX}C_$t"
}

json_cleanup() {
	_jshn_isset TY_J_V && _jshn_unset_table J_V
	unset "${JSON_PREFIX}JSON_CUR" "${JSON_PREFIX}JSON_SEQ"
	return 0
}

json_init() {
	json_cleanup
	_jshn_set JSON_SEQ 0
	_jshn_set JSON_CUR J_V
	_jshn_set TY_J_V object
}

json_set_namespace() {
	[ -n "$2" ] && eval "$2=\"\$JSON_PREFIX\""
	JSON_PREFIX="$1"
}

# _jshn_add TYPE NAME VALUE: a member of the current table. In an array,
# and for an empty name, the key is the item's position (1, 2, ...).
_jshn_add() {
	local t ty k c
	_jshn_get t JSON_CUR
	[ -n "$t" ] || {
		json_init
		t=J_V
	}
	_jshn_get ty "TY_$t"
	k=$2
	if [ "$ty" = array ] || [ -z "$k" ]; then
		_jshn_get c "C_$t"
		c=$((${c:-0} + 1))
		_jshn_set "C_$t" "$c"
		k=$c
	fi
	_jshn_key "$k"
	if ! _jshn_isset "T_${t}_$_jshn_k"; then
		_jshn_get c "K_$t"
		_jshn_set "K_$t" "${c:+$c }$_jshn_k"
	fi
	_jshn_set "T_${t}_$_jshn_k" "$1"
	_jshn_set "N_${t}_$_jshn_k" "$k"
	_jshn_set "V_${t}_$_jshn_k" "$3"
}

json_add_string() { _jshn_add string "$1" "$2"; }
json_add_int() { _jshn_add int "$1" "$2"; }
json_add_double() { _jshn_add double "$1" "$2"; }
json_add_boolean() { _jshn_add boolean "$1" "$2"; }
json_add_null() { _jshn_add null "$1" ""; }

_jshn_open() {
	local parent seq
	_jshn_get parent JSON_CUR
	_jshn_get seq JSON_SEQ
	seq=$((${seq:-0} + 1))
	_jshn_set JSON_SEQ "$seq"
	_jshn_add "$1" "$2" "J_T$seq"
	_jshn_set "TY_J_T$seq" "$1"
	_jshn_set "U_J_T$seq" "$parent"
	_jshn_set JSON_CUR "J_T$seq"
}

_jshn_close() {
	local t parent
	_jshn_get t JSON_CUR
	_jshn_get parent "U_$t"
	[ -n "$parent" ] && _jshn_set JSON_CUR "$parent"
	return 0
}

json_add_object() { _jshn_open object "$1"; }
json_add_array() { _jshn_open array "$1"; }
json_close_object() { _jshn_close; }
json_close_array() { _jshn_close; }

# json_select NAME enters the object or array NAME of the current table;
# json_select .. goes back up.
json_select() {
	local t ty v
	_jshn_get t JSON_CUR
	if [ "$1" = .. ]; then
		_jshn_close
		return 0
	fi
	_jshn_key "$1"
	_jshn_get ty "T_${t}_$_jshn_k"
	case $ty in
	object | array)
		_jshn_get v "V_${t}_$_jshn_k"
		_jshn_set JSON_CUR "$v"
		return 0
		;;
	esac
	[ -n "$_json_no_warning" ] || echo "WARNING: Variable '$1' does not exist or is not an array/object" >&2
	return 1
}

# json_get_var DEST NAME [DEFAULT]
json_get_var() {
	local __j_t
	_jshn_get __j_t JSON_CUR
	_jshn_key "$2"
	if _jshn_isset "T_${__j_t}_$_jshn_k"; then
		eval "$1=\"\${${JSON_PREFIX}V_${__j_t}_$_jshn_k}\""
	else
		eval "$1=\$3"
	fi
}

# json_get_vars NAME[:DEFAULT]...: each into the variable of that name.
json_get_vars() {
	local v
	for v in "$@"; do
		case $v in
		*:*) json_get_var "${v%%:*}" "${v%%:*}" "${v#*:}" ;;
		*) json_get_var "$v" "$v" ;;
		esac
	done
}

json_get_type() {
	local __j_t
	_jshn_get __j_t JSON_CUR
	_jshn_key "$2"
	eval "$1=\"\${${JSON_PREFIX}T_${__j_t}_$_jshn_k}\""
	_jshn_isset "T_${__j_t}_$_jshn_k"
}

json_is_a() {
	local __j_ty
	json_get_type __j_ty "$1" && [ "$__j_ty" = "$2" ]
}

# json_get_keys DEST [NAME]: the keys of the current table or of NAME.
json_get_keys() {
	local __j_t
	if [ -n "$2" ]; then
		json_select "$2" || return 1
		_jshn_get __j_t JSON_CUR
		json_select ..
	else
		_jshn_get __j_t JSON_CUR
	fi
	eval "$1=\"\${${JSON_PREFIX}K_$__j_t}\""
}

# json_get_values DEST [NAME]: the values, space-separated.
json_get_values() {
	local __j_keys __j_k __j_v __j_out=""
	if [ -n "$2" ]; then
		json_select "$2" || return 1
	fi
	json_get_keys __j_keys
	for __j_k in $__j_keys; do
		json_get_var __j_v "$__j_k"
		__j_out="${__j_out:+$__j_out }$__j_v"
	done
	[ -n "$2" ] && json_select ..
	eval "$1=\$__j_out"
}

# json_for_each_item FUNCTION NAME [ARGS]: FUNCTION VALUE KEY ARGS for
# each item of the object or array NAME (once for a plain value).
json_for_each_item() {
	local __j_fn="$1" __j_target="$2" __j_ty __j_keys __j_k __j_v
	shift 2
	json_get_type __j_ty "$__j_target" || return 0
	case $__j_ty in
	object | array)
		json_select "$__j_target"
		json_get_keys __j_keys
		for __j_k in $__j_keys; do
			json_get_var __j_v "$__j_k"
			"$__j_fn" "$__j_v" "$__j_k" "$@"
		done
		json_select ..
		;;
	*)
		json_get_var __j_v "$__j_target"
		"$__j_fn" "$__j_v" "" "$@"
		;;
	esac
}

json_load() { eval "$(jshn -r "$1")"; }
json_load_file() { eval "$(jshn -R "$1")"; }

# _jshn_quote TEXT: sets _jshn_q to TEXT as a JSON string.
_jshn_quote() {
	case $1 in
	*\\* | *\"* | *"$_jshn_nl"* | *"$_jshn_tab"* | *"$_jshn_cr"*)
		# The X keeps trailing newlines from the command substitution.
		_jshn_q=$(printf '%sX' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
			-e "s/$_jshn_tab/\\\\t/g" -e "s/$_jshn_cr/\\\\r/g" |
			sed -e ':a' -e 'N' -e '$!ba' -e 's/\n/\\n/g')
		_jshn_q="\"${_jshn_q%X}\""
		;;
	*) _jshn_q="\"$1\"" ;;
	esac
}

_jshn_dump_table() {
	local t="$1" ty keys k kt v n sep=""
	_jshn_get ty "TY_$t"
	_jshn_get keys "K_$t"
	if [ "$ty" = array ]; then printf '['; else printf '{'; fi
	for k in $keys; do
		printf '%s' "$sep"
		sep=","
		_jshn_get kt "T_${t}_$k"
		_jshn_get v "V_${t}_$k"
		if [ "$ty" != array ]; then
			_jshn_get n "N_${t}_$k"
			_jshn_quote "$n"
			printf '%s:' "$_jshn_q"
		fi
		case $kt in
		object | array) _jshn_dump_table "$v" ;;
		string)
			_jshn_quote "$v"
			printf '%s' "$_jshn_q"
			;;
		int)
			case $v in '' | *[!0-9-]* | ?*-*) v=0 ;; esac
			printf '%s' "$v"
			;;
		double) printf '%s' "${v:-0}" ;;
		boolean)
			case $v in 0 | '' | false) printf 'false' ;; *) printf 'true' ;; esac
			;;
		*) printf 'null' ;;
		esac
	done
	if [ "$ty" = array ]; then printf ']'; else printf '}'; fi
}

# json_dump prints the whole message of the current namespace, one line.
json_dump() {
	_jshn_isset TY_J_V || json_init
	_jshn_dump_table J_V
	echo
}
