'use strict';
'require baseclass';
'require dom';
'require rpc';
'require ui';

// What the wgd protocol form and the Status > wgd page share: the
// luci.wgd rpcd backend, the field checks (the same limits as the
// daemon's configuration), the live states of interfaces and peers from
// `wgd status --json`, the wg-quick file reader, and the dialogs that add
// a device and show its configuration.

var callStatus = rpc.declare({
	object: 'luci.wgd',
	method: 'status',
	expect: { '': {} }
});

var callDoctor = rpc.declare({
	object: 'luci.wgd',
	method: 'doctor',
	expect: { '': {} }
});

var callGenerateKeyPair = rpc.declare({
	object: 'luci.wgd',
	method: 'generateKeyPair',
	expect: { keys: {} }
});

var callGeneratePsk = rpc.declare({
	object: 'luci.wgd',
	method: 'generatePsk',
	expect: { psk: '' }
});

var callPublicKey = rpc.declare({
	object: 'luci.wgd',
	method: 'getPublicKey',
	params: [ 'private_key' ],
	expect: { '': {} }
});

var callAddPeer = rpc.declare({
	object: 'luci.wgd',
	method: 'addPeer',
	params: [ 'interface', 'name', 'full_tunnel', 'dns', 'keep_key', 'expires' ],
	expect: { '': {} }
});

var callShowPeer = rpc.declare({
	object: 'luci.wgd',
	method: 'showPeer',
	params: [ 'interface', 'name' ],
	expect: { '': {} }
});

// The error codes the protocol handler gives netifd, and their texts.
var errorTexts = {
	WGD_NOT_RUNNING: _('The wgd service is not running'),
	WGD_IFUP_FAILED: _('wgd could not bring the interface up'),
	WGD_BAD_ANSWER: _('wgd answered the protocol handler with something it could not read')
};

// netifd's errors of an interface ({code, data}) as texts (null for
// none): the handler puts the daemon's reason in data.
function errorsText(errors) {
	var rv = null;

	(Array.isArray(errors) ? errors : []).forEach(function(e) {
		if (e == null || typeof(e.code) != 'string')
			return;

		var text = errorTexts[e.code] || _('Unknown error (%s)').format(e.code);

		if (Array.isArray(e.data) && e.data.length)
			text = '%s: %s'.format(text, e.data.join(' '));

		(rv = rv || []).push(text);
	});

	return rv;
}

// A handshake older than this (WireGuard's Reject-After-Time) means the
// peer is offline: an active session renews its handshake every two
// minutes.
var ONLINE_SECONDS = 180;

// A WireGuard key: 32 bytes in base64, 44 characters ending in '='
// (the daemon ignores the unused low bits of the last digit).
function validateKey(section_id, value) {
	if (value == null || value.length == 0)
		return true;

	if (!/^[A-Za-z0-9+\/]{43}=$/.test(value))
		return _('Invalid key: 44 characters of base64 expected');

	return true;
}

// option mtu: decimal 576 to 9000, as the daemon reads it (empty: the
// daemon's default).
function validateMtu(section_id, value) {
	if (value == null || value.length == 0 || value == 'auto')
		return true;

	if (!/^[0-9]+$/.test(value) || +value < 576 || +value > 9000)
		return _('Expecting a number from 576 to 9000, or auto (empty) to follow the WAN');

	return true;
}

// option fwmark: 'off' or a 32-bit number written as Go reads a number
// literal: decimal, 0x hex, 0o or 0 octal, 0b binary, digits optionally
// grouped with '_'.
function parseFwmark(value) {
	var m, digits, base;

	if (value == 'off')
		return 0;

	if ((m = /^0[xX]((?:_?[0-9a-fA-F])+)$/.exec(value)) != null)
		digits = m[1], base = 16;
	else if ((m = /^0[bB]((?:_?[01])+)$/.exec(value)) != null)
		digits = m[1], base = 2;
	else if ((m = /^0[oO]?((?:_?[0-7])+)$/.exec(value)) != null)
		digits = m[1], base = 8;
	else if (/^(?:0|[1-9](?:_?[0-9])*)$/.test(value))
		digits = value, base = 10;
	else
		return null;

	var n = parseInt(digits.replace(/_/g, ''), base);

	return (n <= 0xffffffff) ? n : null;
}

function validateFwmark(section_id, value) {
	if (value == null || value.length == 0)
		return true;

	if (parseFwmark(value) == null)
		return _('Expecting a 32-bit number (such as 0x1234 or 4660), or off');

	return true;
}

function isIPv4(s) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);

	return m != null && m.slice(1).every(function(o) { return +o <= 255 && (o == '0' || o[0] != '0'); });
}

function isIPv6(s) {
	var v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s), groups = 8;

	if (v4) {
		if (!isIPv4(v4[1]))
			return false;
		s = s.substring(0, s.length - v4[1].length) + '0';
		groups = 7;
	}

	var halves = s.split('::');

	if (halves.length > 2)
		return false;

	var parts = halves.map(function(h) { return h == '' ? [] : h.split(':'); }),
	    n = parts[0].length + (parts[1] ? parts[1].length : 0);

	if (!parts.every(function(p) { return p.every(function(g) { return /^[0-9a-fA-F]{1,4}$/.test(g); }); }))
		return false;

	return (halves.length == 2) ? n < groups : n == groups;
}

// An address with an optional prefix length, as wg-quick and the daemon
// take them.
function isCIDR(s) {
	var m = /^([^\/]+)(?:\/(\d{1,3}))?$/.exec(s);

	if (m == null)
		return false;
	if (isIPv4(m[1]))
		return m[2] == null || +m[2] <= 32;
	if (isIPv6(m[1]))
		return m[2] == null || +m[2] <= 128;

	return false;
}

function isHostname(s) {
	return s.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(s);
}

// HOST:PORT, [IPV6]:PORT: {host, port} or null.
function parseEndpoint(s) {
	var m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) || /^([^:\[\]]+):(\d{1,5})$/.exec(s);

	if (m == null || +m[2] < 1 || +m[2] > 65535)
		return null;
	if (s[0] == '[' ? !isIPv6(m[1]) : !(isIPv4(m[1]) || isHostname(m[1])))
		return null;

	return { host: m[1], port: m[2] };
}

// Go's time.ParseDuration in seconds (null: not a duration): a sign,
// then decimal numbers each with a unit (ns, us, µs, ms, s, m, h); "0"
// alone is zero. Go refuses more than 2^63-1 nanoseconds.
var durationUnits = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

function parseGoDuration(s) {
	var m = /^([-+]?)(.*)$/.exec(s), sign = (m[1] == '-') ? -1 : 1, rest = m[2], total = 0, part;

	if (rest == '0')
		return 0;
	if (rest == '')
		return null;

	var re = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;

	while (rest.length) {
		if ((part = re.exec(rest)) == null || part[1] == '' || part[1] == '.')
			return null;
		total += parseFloat(part[1]) * durationUnits[part[2]];
		rest = rest.substring(part[0].length);
	}

	if (total > 9223372036.854775807)
		return null;

	return sign * total;
}

// The UNIX time of an RFC 3339 time or a date YYYY-MM-DD (00:00 UTC), as
// the daemon reads `option expires`; null when it is neither.
function parseExpiryTime(s) {
	var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})([.,]\d+)?(Z|[+-]\d{2}:\d{2}))?$/.exec(s);

	if (m == null)
		return null;

	var y = +m[1], mo = +m[2], d = +m[3], h = +(m[4] || 0), mi = +(m[5] || 0), sec = +(m[6] || 0);

	if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23 || mi > 59 || sec > 59)
		return null;

	var t = Date.UTC(y, mo - 1, d, h, mi, sec) / 1000;

	if (m[8] && m[8] != 'Z') {
		var oh = +m[8].substring(1, 3), om = +m[8].substring(4, 6);
		if (oh > 23 || om > 59)
			return null;
		t -= (m[8][0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
	}
	if (m[7])
		t += parseFloat('0.' + m[7].substring(1));

	return Math.floor(t);
}

// parseExpiry reads when a device added with "Add device" stops working,
// as `wgd peer add --expires` does: a duration from now (30m, 48h, 7d,
// 1d12h) or a time (RFC 3339, or YYYY-MM-DD for 00:00 UTC that day).
// {time} (UNIX seconds, after now) or {error}.
function parseExpiry(value, now) {
	var s = String(value).trim(), t = parseExpiryTime(s);

	if (t == null) {
		var d, i = s.indexOf('d');

		if (i < 0) {
			d = parseGoDuration(s);
		}
		else {
			var days = s.substring(0, i), rest = s.substring(i + 1), more = 0;

			d = (/^[0-9]+$/.test(days) && +days <= 65535) ? +days * 86400 : null;
			if (d != null && rest != '')
				d = ((more = parseGoDuration(rest)) != null) ? d + more : null;
		}

		if (d == null)
			return { error: _('"%s": want a duration such as 30m, 48h or 7d, an RFC 3339 time or a date YYYY-MM-DD').format(s) };
		if (!(d > 0))
			return { error: _('"%s": the duration must be positive').format(s) };

		t = Math.floor(now + d);
	}

	if (!(t > now))
		return { error: _('%s is not in the future').format(formatTime(t)) };

	return { time: t };
}

// The expiry field of "Add device": empty (never) or what parseExpiry
// takes, at the browser's clock.
function validateExpiry(value, now) {
	if (value == null || String(value).trim() == '')
		return true;

	var e = parseExpiry(value, now != null ? now : Math.floor(Date.now() / 1000));

	return e.error || true;
}

// A UNIX time as the daemon writes it (RFC 3339, UTC).
function formatTime(t) {
	return new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

function formatBytes(n) {
	var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;

	n = +n || 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}

	return (i ? n.toFixed(1) : n.toFixed(0)) + ' ' + units[i];
}

function formatAge(seconds) {
	if (seconds < 120)
		return _('%d s ago').format(seconds);
	if (seconds < 7200)
		return _('%d min ago').format(Math.floor(seconds / 60));
	if (seconds < 172800)
		return _('%d h ago').format(Math.floor(seconds / 3600));
	return _('%d days ago').format(Math.floor(seconds / 86400));
}

// Whether the answer of the status call says the daemon is not there:
// the backend answers {"error": ...} then, a successful call for rpc.
function daemonStopped(status) {
	return status == null || typeof(status) != 'object' || status.error != null || !Array.isArray(status.interfaces);
}

function findInterface(status, ifname) {
	var ifaces = (!daemonStopped(status)) ? status.interfaces : [];

	for (var i = 0; i < ifaces.length; i++)
		if (ifaces[i].name == ifname)
			return ifaces[i];

	return null;
}

function findPeer(iface, publicKey) {
	var peers = (iface && Array.isArray(iface.peers)) ? iface.peers : [];

	for (var i = 0; i < peers.length; i++)
		if (peers[i].public_key == publicKey)
			return peers[i];

	return null;
}

// The state of interface ifname: {kind, text}. status is the last answer
// of the status call, undefined before the first; errors, optional, what
// netifd keeps of the interface's last failed setup (errorsText): the
// reason when the daemon has none, as after a refused `wgd ifup`.
function interfaceState(status, ifname, errors) {
	if (status === undefined)
		return { kind: 'loading', text: _('Collecting data...') };

	if (daemonStopped(status))
		return { kind: 'stopped', text: _('The wgd service is not running') };

	var iface = findInterface(status, ifname),
	    netifd = (Array.isArray(errors) && errors.length) ? errors.join('; ') : null;

	if (!iface)
		return netifd ? { kind: 'down', text: _('Down: %s').format(netifd) }
			: { kind: 'unapplied', text: _('Not running: save and apply, or see the system log') };

	if (!iface.up || iface.error) {
		var why = iface.error || (!iface.up && netifd);
		return { kind: 'down', text: why ? _('Down: %s').format(why) : _('Down') };
	}

	return { kind: 'up', text: _('Up, listening on UDP port %d').format(iface.listen_port) };
}

// The state of a peer (its UCI section's public_key and disabled) of
// interface ifname at UNIX time now: {kind, text, online}; online is
// true or false once a handshake tells, else null.
function peerState(status, ifname, peer, now) {
	var st = interfaceState(status, ifname);

	if (peer.disabled == '1')
		return { kind: 'disabled', text: _('Peer disabled'), online: null };

	if (st.kind != 'up')
		return { kind: st.kind, text: st.text, online: null };

	var p = findPeer(findInterface(status, ifname), peer.public_key);

	if (!p)
		return { kind: 'unapplied', text: _('Not running: save and apply, or see the system log'), online: null };

	if (p.expired)
		return { kind: 'expired', text: _('Expired on %s').format(formatTime(p.expires)), online: null };

	// A guest says until when it runs.
	var until = (p.expires > 0) ? ' · ' + _('expires %s').format(formatTime(p.expires)) : '';

	if (!(p.latest_handshake > 0))
		return { kind: 'never', text: _('No handshake yet') + until, online: false };

	var age = Math.max(0, now - p.latest_handshake);

	if (age > ONLINE_SECONDS)
		return { kind: 'offline', text: _('Latest handshake %s').format(formatAge(age)) + until, online: false };

	return { kind: 'online', text: _('Latest handshake %s').format(formatAge(age)) + until, online: true };
}

// The live fields of a peer for a table: transfer (received / sent) in
// the current session, total (received / sent over all sessions, kept
// across restarts) and the endpoint in use.
function peerTraffic(status, ifname, publicKey) {
	var p = findPeer(findInterface(status, ifname), publicKey);

	if (!p)
		return { transfer: null, total: null, endpoint: null };

	return {
		transfer: '%s / %s'.format(formatBytes(p.rx_bytes), formatBytes(p.tx_bytes)),
		total: '%s / %s'.format(formatBytes(p.total_rx_bytes), formatBytes(p.total_tx_bytes)),
		endpoint: p.endpoint || null
	};
}

// The fields of a wg-quick file wgd has no use for: skipped with a note.
var wgQuickIgnored = [ 'table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig' ];

// parseWgQuick reads a wg-quick configuration: {iface, peers, errors,
// notes}. iface holds the [Interface] section's fields as UCI options
// (null without one), peers one object of UCI options per [Peer]; errors
// and notes name the line and the field.
function parseWgQuick(text) {
	var res = { iface: null, peers: [], errors: [], notes: [] },
	    lines = String(text).split(/\r?\n/), section = null, cur = null;

	function fail(n, field, msg) {
		res.errors.push(_('Line %d, %s: %s').format(n, field, msg));
	}

	function list(v) {
		return v.split(',').map(function(s) { return s.trim(); }).filter(function(s) { return s.length; });
	}

	for (var i = 0; i < lines.length; i++) {
		var n = i + 1, line = lines[i].replace(/#.*$/, '').trim(), m;

		if (line == '')
			continue;

		if ((m = /^\[\s*(\w+)\s*\]$/.exec(line)) != null) {
			section = m[1].toLowerCase();
			if (section == 'interface') {
				if (res.iface)
					fail(n, '[Interface]', _('a second [Interface] section'));
				cur = res.iface = res.iface || { addresses: [], dns: [] };
			}
			else if (section == 'peer') {
				cur = { allowed_ips: [], line: n };
				res.peers.push(cur);
			}
			else {
				fail(n, m[1], _('unknown section'));
				cur = null;
			}
			continue;
		}

		if ((m = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line)) == null) {
			fail(n, line.substring(0, 20), _('expected Field = Value'));
			continue;
		}

		var field = m[1], key = field.toLowerCase(), value = m[2].trim();

		if (cur == null) {
			fail(n, field, _('outside of an [Interface] or [Peer] section'));
			continue;
		}

		if (wgQuickIgnored.indexOf(key) > -1) {
			res.notes.push(_('Line %d, %s: not used by wgd, skipped').format(n, field));
			continue;
		}

		var valid = true;

		switch (section + '.' + key) {
		case 'interface.privatekey':
		case 'peer.publickey':
		case 'peer.presharedkey':
			valid = (value != '' && validateKey(null, value) === true);
			if (valid)
				cur[{ privatekey: 'private_key', publickey: 'public_key', presharedkey: 'preshared_key' }[key]] = value;
			else
				fail(n, field, _('not a WireGuard key (44 characters of base64)'));
			break;

		case 'interface.listenport':
			valid = /^\d{1,5}$/.test(value) && +value <= 65535;
			if (valid)
				cur.listen_port = value;
			else
				fail(n, field, _('not a port number (0 to 65535)'));
			break;

		case 'interface.address':
		case 'peer.allowedips':
			list(value).forEach(function(a) {
				if (isCIDR(a))
					(key == 'address' ? cur.addresses : cur.allowed_ips).push(a);
				else
					fail(n, field, _('"%s" is not an IP address or CIDR').format(a));
			});
			break;

		case 'interface.dns':
			cur.dns = cur.dns.concat(list(value));
			break;

		case 'interface.mtu':
			if (validateMtu(null, value) === true && value != '')
				cur.mtu = value;
			else
				fail(n, field, _('not a number from 576 to 9000'));
			break;

		case 'interface.fwmark':
			if (value != '' && parseFwmark(value) != null)
				cur.fwmark = value;
			else
				fail(n, field, _('not a 32-bit number or off'));
			break;

		case 'peer.endpoint':
			var ep = parseEndpoint(value);
			if (ep) {
				cur.endpoint_host = ep.host;
				cur.endpoint_port = ep.port;
			}
			else {
				fail(n, field, _('expected HOST:PORT or [IPv6]:PORT'));
			}
			break;

		case 'peer.persistentkeepalive':
			if (value == 'off')
				value = '0';
			if (/^\d{1,5}$/.test(value) && +value <= 65535)
				cur.persistent_keepalive = value;
			else
				fail(n, field, _('not a number of seconds (0 to 65535) or off'));
			break;

		default:
			fail(n, field, _('unknown field in [%s]').format(section == 'peer' ? 'Peer' : 'Interface'));
		}
	}

	res.peers.forEach(function(p) {
		if (!p.public_key)
			fail(p.line, '[Peer]', _('PublicKey is missing'));
	});

	if (!res.iface && !res.peers.length && !res.errors.length)
		res.errors.push(_('Not a WireGuard configuration: no [Interface] or [Peer] section'));

	return res;
}

// openDialog shows a dialog and returns the function that closes it.
// Inside LuCI's modal (the interface editor) the dialog stacks on it, as
// LuCI's own section dialogs do: the editor is hidden, not replaced, and
// comes back as it was when the dialog closes.
function openDialog(title, nodes) {
	var dlg = document.querySelector('#modal_overlay > .modal');

	if (!dlg || !document.body.classList.contains('modal-overlay-active')) {
		ui.showModal(title, nodes, 'cbi-modal');
		return ui.hideModal;
	}

	var hidden = Array.prototype.filter.call(dlg.children, function(n) {
		return n.style.display != 'none';
	});
	var box = E('div', { 'class': 'wgd-dialog' }, [ E('h4', {}, [ title ]) ].concat(nodes));

	hidden.forEach(function(n) { n.style.display = 'none'; });
	dlg.appendChild(box);

	return function() {
		dlg.removeChild(box);
		hidden.forEach(function(n) { n.style.display = ''; });
	};
}

// The dialog showing a client's configuration and its QR code, once: the
// text lives only in this dialog (and the file the user downloads).
function showClientDialog(client, log) {
	var conf = client.config || '',
	    name = client.name || 'wgd',
	    blob = new Blob([ conf ], { type: 'text/plain' }),
	    url = URL.createObjectURL(blob),
	    qr = 'data:image/svg+xml;base64,' + btoa(client.qr_svg || '');

	var closeDialog;

	function close() {
		URL.revokeObjectURL(url);
		closeDialog();
	}

	closeDialog = openDialog(_('Configuration of %s').format(name), [
		client.warning ? E('div', { 'class': 'alert-message warning' }, [ client.warning ]) : '',
		E('p', {}, [ _('Scan the QR code with the WireGuard app, or load the file on the device. It holds the device\'s private key: keep it secret.') ]),
		E('div', { 'style': 'display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start' }, [
			E('img', { 'src': qr, 'alt': _('QR code of the configuration'), 'style': 'width:280px;height:280px;image-rendering:pixelated' }),
			E('pre', { 'class': 'wgd-client-config', 'style': 'flex:1;min-width:20em;white-space:pre-wrap;word-break:break-all' }, [ conf ])
		]),
		log ? E('p', { 'style': 'white-space:pre-wrap' }, [ E('small', {}, [ log ]) ]) : '',
		E('div', { 'class': 'right' }, [
			E('a', { 'class': 'btn cbi-button', 'href': url, 'download': name + '.conf' }, [ _('Download') ]),
			' ',
			E('button', { 'class': 'btn cbi-button cbi-button-positive', 'click': close }, [ _('Close') ])
		])
	]);
}

// The "Add device" dialog: `wgd peer add` on interface ifname through the
// backend; done() runs after the client's configuration was shown.
function addDeviceDialog(ifname, done) {
	var name = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'placeholder': 'phone' }),
	    mode = E('select', { 'class': 'cbi-input-select' }, [
	    	E('option', { 'value': 'split' }, [ _('Split tunnel') ]),
	    	E('option', { 'value': 'full' }, [ _('Full tunnel') ])
	    ]),
	    dns = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'placeholder': _('default') }),
	    expires = E('input', { 'type': 'text', 'class': 'cbi-input-text wgd-expires', 'placeholder': _('never') }),
	    keep = E('input', { 'type': 'checkbox' }),
	    err = E('div', { 'class': 'wgd-add-error' });

	function row(label, widget, help) {
		return E('div', { 'class': 'cbi-value' }, [
			E('label', { 'class': 'cbi-value-title' }, [ label ]),
			E('div', { 'class': 'cbi-value-field' }, [ widget, help ? E('div', { 'class': 'cbi-value-description' }, [ help ]) : '' ])
		]);
	}

	function submit() {
		var check = validateDeviceName(name.value);

		if (check === true)
			check = validateExpiry(expires.value);

		if (check !== true) {
			dom.content(err, E('div', { 'class': 'alert-message error' }, [ check ]));
			return;
		}

		return callAddPeer(ifname, name.value, mode.value == 'full', dns.value.trim(), keep.checked, expires.value.trim()).then(function(res) {
			if (res.error || !res.client) {
				dom.content(err, E('div', { 'class': 'alert-message error', 'style': 'white-space:pre-wrap' }, [ res.error || _('No answer from wgd') ]));
				return;
			}
			close();
			showClientDialog(res.client, res.log);
			if (typeof(done) == 'function')
				return done(res.client);
		}).catch(function(e) {
			dom.content(err, E('div', { 'class': 'alert-message error' }, [ errorMessage(e) ]));
		});
	}

	var close = openDialog(_('Add a device to %s').format(ifname), [
		E('p', {}, [ _('Makes keys and an address for a new device, adds it as a peer and shows its configuration once.') ]),
		row(_('Name'), name, _('Letters, digits and _; the peer\'s section name.')),
		row(_('Traffic'), mode, _('Split: only the tunnel\'s and the LAN\'s networks go through this router. Full: all of the device\'s traffic does.')),
		row(_('DNS'), dns, _('Servers for the device, comma-separated, or none. Default: this router for a full tunnel, none for a split tunnel.')),
		row(_('Expires'), expires, _('Optional. The device stops working after a time such as 30m, 48h or 7d, or at a date (2026-12-31, 00:00 UTC) or time (2026-12-31T18:00:00Z). Empty: never.')),
		row(_('Keep the key'), keep, _('Keeps the device\'s private key in the configuration, so that its configuration can be shown again.')),
		err,
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'btn cbi-button', 'click': function() { close(); } }, [ _('Cancel') ]),
			' ',
			E('button', { 'class': 'btn cbi-button cbi-button-positive', 'click': ui.createHandlerFn(null, submit) }, [ _('Add device') ])
		])
	]);
}

// The message of a failed call, without the stack LuCI's errors carry
// after it.
function errorMessage(e) {
	return String((e && e.message) || e).split('\n')[0];
}

// A peer name for `wgd peer add`: a UCI section name.
function validateDeviceName(value) {
	if (!/^[A-Za-z0-9_]+$/.test(value || ''))
		return _('Expecting a name of letters, digits and _');

	return true;
}

// The configuration of a peer whose key was kept, through the backend.
function showPeerConfig(ifname, name) {
	return callShowPeer(ifname, name).then(function(res) {
		if (res.error || !res.client)
			return ui.addNotification(null, E('p', {}, [ res.error || _('No answer from wgd') ]), 'error');

		showClientDialog(res.client, null);
	}).catch(function(e) {
		ui.addNotification(null, E('p', {}, [ errorMessage(e) ]), 'error');
	});
}

return baseclass.extend({
	errorTexts: errorTexts,
	errorsText: errorsText,
	callStatus: callStatus,
	callDoctor: callDoctor,
	callGenerateKeyPair: callGenerateKeyPair,
	callGeneratePsk: callGeneratePsk,
	callPublicKey: callPublicKey,
	callAddPeer: callAddPeer,
	callShowPeer: callShowPeer,
	validateKey: validateKey,
	validateMtu: validateMtu,
	validateFwmark: validateFwmark,
	validateDeviceName: validateDeviceName,
	validateExpiry: validateExpiry,
	parseExpiry: parseExpiry,
	parseFwmark: parseFwmark,
	isCIDR: isCIDR,
	parseEndpoint: parseEndpoint,
	formatBytes: formatBytes,
	formatAge: formatAge,
	daemonStopped: daemonStopped,
	findInterface: findInterface,
	findPeer: findPeer,
	interfaceState: interfaceState,
	peerState: peerState,
	peerTraffic: peerTraffic,
	parseWgQuick: parseWgQuick,
	openDialog: openDialog,
	showClientDialog: showClientDialog,
	addDeviceDialog: addDeviceDialog,
	showPeerConfig: showPeerConfig
});
