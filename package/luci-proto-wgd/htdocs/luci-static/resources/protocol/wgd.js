'use strict';
'require ui';
'require uci';
'require rpc';
'require poll';
'require form';
'require network';

// LuCI's form for interfaces with protocol 'wgd': the fields of LuCI's
// WireGuard form (the same UCI options), key generation through the
// luci.wgd rpcd backend, and each peer's live state from `wgd status`.

var callStatus = rpc.declare({
	object: 'luci.wgd',
	method: 'status',
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
	expect: { public_key: '' }
});

network.registerErrorCode('WGD_NOT_RUNNING', _('The wgd service is not running'));
network.registerErrorCode('WGD_IFUP_FAILED', _('wgd could not bring the interface up, see the system log'));
network.registerErrorCode('WGD_BAD_ANSWER', _('wgd answered the protocol handler with something it could not read'));

// A WireGuard key: 32 bytes in base64, 44 characters ending in '='.
function validateKey(section_id, value) {
	if (value == null || value.length == 0)
		return true;

	if (!/^[A-Za-z0-9+\/]{42}[AEIMQUYcgkosw048]=$/.test(value))
		return _('Invalid key: 44 characters of base64 expected');

	return true;
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
	return _('%d h ago').format(Math.floor(seconds / 3600));
}

function findInterface(status, ifname) {
	var ifaces = (status && Array.isArray(status.interfaces)) ? status.interfaces : [];

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

// One line about a peer from `wgd status --json`; now in UNIX seconds.
function peerStatusText(iface, peer, now) {
	if (!iface)
		return _('Not configured in the running wgd (save and apply first)');

	if (!iface.up)
		return iface.error ? _('Interface down: %s').format(iface.error) : _('Interface down');

	if (!peer)
		return _('Not configured in the running wgd (save and apply first)');

	var parts = [];

	if (peer.latest_handshake > 0)
		parts.push(_('Latest handshake %s').format(formatAge(Math.max(0, now - peer.latest_handshake))));
	else
		parts.push(_('No handshake yet'));

	if (peer.endpoint)
		parts.push(_('endpoint %s').format(peer.endpoint));

	parts.push(_('received %s, sent %s').format(formatBytes(peer.rx_bytes), formatBytes(peer.tx_bytes)));

	return parts.join(', ');
}

// One poll for the whole page: every live field carries data-wgd-*
// attributes and is refreshed from a single `wgd status`.
var lastStatus = null;

function refreshStatus() {
	return callStatus().then(function(status) {
		var now = Math.floor(Date.now() / 1000);

		lastStatus = status;

		document.querySelectorAll('[data-wgd-peer]').forEach(function(el) {
			var iface = findInterface(status, el.getAttribute('data-wgd-iface'));
			el.textContent = peerStatusText(iface, findPeer(iface, el.getAttribute('data-wgd-peer')), now);
		});
	}).catch(function() {
		lastStatus = null;

		document.querySelectorAll('[data-wgd-peer]').forEach(function(el) {
			el.textContent = _('The wgd service is not running');
		});
	});
}

var polling = false;

function startPolling() {
	if (polling)
		return;

	polling = true;
	poll.add(refreshStatus, 5);
}

return network.registerProtocol('wgd', {
	getI18n: function() {
		return _('WireGuard (wgd)');
	},

	getIfname: function() {
		return this._ubus('l3_device') || this.sid;
	},

	getOpkgPackage: function() {
		return 'wgd';
	},

	isFloating: function() {
		return true;
	},

	isVirtual: function() {
		return true;
	},

	getDevices: function() {
		return null;
	},

	containsDevice: function(ifname) {
		return (network.getIfnameOf(ifname) == this.getIfname());
	},

	peerStatusText: peerStatusText,

	renderFormOptions: function(s) {
		var o, ss, ifname = s.section;

		// -- general ---------------------------------------------------------

		o = s.taboption('general', form.Value, 'private_key', _('Private Key'),
			_('Required. Base64-encoded private key for this interface.'));
		o.password = true;
		o.validate = validateKey;
		o.rmempty = false;

		o = s.taboption('general', form.Button, 'generate_key', _('Generate Key'));
		o.inputstyle = 'apply';
		o.onclick = ui.createHandlerFn(this, function(section_id) {
			return callGenerateKeyPair().then(function(keys) {
				var input = document.getElementById('widget.cbid.network.%s.private_key'.format(section_id));

				input.value = keys.priv || '';
				input.dispatchEvent(new Event('change'));
			});
		}, s.section);

		o = s.taboption('general', form.DummyValue, '_public_key', _('Public Key'),
			_('Derived from the saved private key; give it to the peers.'));
		o.load = function(section_id) {
			var priv = uci.get('network', section_id, 'private_key');

			if (!priv)
				return Promise.resolve('');

			return callPublicKey(priv).catch(function() { return ''; });
		};

		o = s.taboption('general', form.Value, 'listen_port', _('Listen Port'),
			_('Optional. UDP port used for outgoing and incoming packets.'));
		o.datatype = 'port';
		o.placeholder = _('random');
		o.optional = true;

		o = s.taboption('general', form.DynamicList, 'addresses', _('IP Addresses'),
			_('Recommended. IP addresses of the WireGuard interface.'));
		o.datatype = 'ipaddr';
		o.optional = true;

		o = s.taboption('general', form.Flag, 'nohostroute', _('No Host Routes'),
			_('Optional. Do not create host routes to peers.'));
		o.optional = true;

		// -- advanced --------------------------------------------------------

		o = s.taboption('advanced', form.Value, 'mtu', _('MTU'),
			_('Optional. Maximum Transmission Unit of tunnel interface. Empty: it follows the WAN (its MTU less WireGuard\'s overhead, at most 1420).'));
		o.datatype = 'range(1280,1420)';
		o.placeholder = 'auto';
		o.optional = true;

		o = s.taboption('advanced', form.Value, 'fwmark', _('Firewall Mark'),
			_('Optional. 32-bit mark for outgoing encrypted packets. Enter value in hex, starting with <code>0x</code>.'));
		o.optional = true;
		o.validate = function(section_id, value) {
			if (value.length > 0 && !/^0x[a-fA-F0-9]{1,8}$/.test(value))
				return _('Invalid hexadecimal value');

			return true;
		};

		// -- peers -----------------------------------------------------------

		try {
			s.tab('peers', _('Peers'), _('The remote ends of this tunnel. Changes to peers apply without restarting the interface.'));
		}
		catch (e) {}

		o = s.taboption('peers', form.SectionValue, '_peers', form.TypedSection, 'wireguard_%s'.format(ifname));
		o.depends('proto', 'wgd');

		ss = o.subsection;
		ss.anonymous = true;
		ss.addremove = true;
		ss.addbtntitle = _('Add peer');

		ss.renderSectionPlaceholder = function() {
			return E([], [
				E('br'),
				E('em', _('No peers defined yet'))
			]);
		};

		o = ss.option(form.DummyValue, '_status', _('Status'));
		o.renderWidget = function(section_id) {
			var publicKey = uci.get('network', section_id, 'public_key') || '',
			    iface = findInterface(lastStatus, ifname),
			    text = lastStatus
			        ? peerStatusText(iface, findPeer(iface, publicKey), Math.floor(Date.now() / 1000))
			        : _('Collecting data...');

			startPolling();

			return E('span', { 'data-wgd-iface': ifname, 'data-wgd-peer': publicKey }, text);
		};

		o = ss.option(form.Flag, 'disabled', _('Peer disabled'),
			_('Keeps the peer in the configuration without using it.'));
		o.optional = true;

		o = ss.option(form.Value, 'description', _('Description'), _('Optional. Description of peer.'));
		o.placeholder = 'My Peer';
		o.datatype = 'string';
		o.optional = true;

		o = ss.option(form.Value, 'public_key', _('Public Key'), _('Required. Base64-encoded public key of peer.'));
		o.validate = validateKey;
		o.rmempty = false;

		o = ss.option(form.Value, 'preshared_key', _('Preshared Key'),
			_('Optional. Base64-encoded preshared key. Adds in an additional layer of symmetric-key cryptography for post-quantum resistance.'));
		o.password = true;
		o.validate = validateKey;
		o.optional = true;

		o = ss.option(form.Button, 'generate_psk', _('Generate Preshared Key'));
		o.inputstyle = 'apply';
		o.onclick = ui.createHandlerFn(this, function(ev, section_id) {
			return callGeneratePsk().then(function(psk) {
				var input = document.getElementById('widget.cbid.network.%s.preshared_key'.format(section_id));

				input.value = psk || '';
				input.dispatchEvent(new Event('change'));
			});
		});

		o = ss.option(form.DynamicList, 'allowed_ips', _('Allowed IPs'),
			_("Optional. IP addresses and prefixes that this peer is allowed to use inside the tunnel. Usually the peer's tunnel IP addresses and the networks the peer routes through the tunnel."));
		o.datatype = 'ipaddr';
		o.optional = true;

		o = ss.option(form.Flag, 'route_allowed_ips', _('Route Allowed IPs'),
			_('Optional. Create routes for Allowed IPs for this peer.'));

		o = ss.option(form.Value, 'endpoint_host', _('Endpoint Host'),
			_('Optional. Host of peer. Names are resolved by wgd and again when the WAN changes; a name that does not resolve leaves the other peers working.'));
		o.placeholder = 'vpn.example.com';
		o.datatype = 'host';

		o = ss.option(form.Value, 'endpoint_port', _('Endpoint Port'), _('Optional. Port of peer.'));
		o.placeholder = '51820';
		o.datatype = 'port';

		o = ss.option(form.Value, 'persistent_keepalive', _('Persistent Keep Alive'),
			_('Optional. Seconds between keep alive messages. Default is 0 (disabled). Recommended value if this device is behind a NAT is 25.'));
		o.datatype = 'range(0,65535)';
		o.placeholder = '0';
	},

	deleteConfiguration: function() {
		uci.sections('network', 'wireguard_%s'.format(this.sid), function(s) {
			uci.remove('network', s['.name']);
		});
	}
});
