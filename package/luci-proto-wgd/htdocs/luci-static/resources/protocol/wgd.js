'use strict';
'require ui';
'require uci';
'require poll';
'require form';
'require network';
'require tools.wgd as wgd';

// LuCI's form for interfaces with protocol 'wgd': the UCI options of
// LuCI's WireGuard form, with the daemon's limits; the peers as a table
// with live columns and an edit dialog; adding a device (`wgd peer add`)
// and importing a wg-quick file. Live state comes from one `wgd status`
// poll for the whole page.

for (var code in wgd.errorTexts)
	network.registerErrorCode(code, wgd.errorTexts[code]);

// The device of a wgd interface is a TUN device LuCI would call an
// Ethernet adapter: it is a tunnel.
var tunnelDevice = {
	getType: function() {
		return 'tunnel';
	},

	getTypeI18n: function() {
		return _('WireGuard tunnel (wgd)');
	}
};

// One poll for the whole page: every live field carries data-wgd-*
// attributes and is refreshed from a single `wgd status`. undefined until
// the first answer.
var lastStatus;

function now() {
	return Math.floor(Date.now() / 1000);
}

// The endpoint configured for the peer section sid, as HOST:PORT; null
// for none.
function configuredEndpoint(sid) {
	var host = uci.get('network', sid, 'endpoint_host'),
	    port = uci.get('network', sid, 'endpoint_port') || '51820';

	if (!host)
		return null;

	return (host.indexOf(':') > -1 ? '[%s]:%s' : '%s:%s').format(host, port);
}

// The text and class of a live field: what (state, transfer, total,
// inuse: the endpoint in use where it is not the configured one), for
// interface ifname and the peer section sid.
function liveField(what, ifname, sid) {
	var peer = { public_key: uci.get('network', sid, 'public_key'), disabled: uci.get('network', sid, 'disabled') },
	    st = wgd.peerState(lastStatus, ifname, peer, now()),
	    live = wgd.peerTraffic(lastStatus, ifname, peer.public_key),
	    running = (st.kind == 'online' || st.kind == 'offline' || st.kind == 'never');

	switch (what) {
	case 'state':
		return { text: st.text, cls: 'wgd-peer-' + st.kind, mark: st.online };
	case 'transfer':
		return { text: running ? live.transfer : null };
	case 'total':
		return { text: live.total };
	case 'inuse':
		return { text: (running && live.endpoint && live.endpoint != configuredEndpoint(sid)) ? _('in use: %s').format(live.endpoint) : '' };
	}
}

function renderLive(what, ifname, sid) {
	var f = liveField(what, ifname, sid), el = E('span', { 'data-wgd-live': what, 'data-wgd-iface': ifname, 'data-wgd-sid': sid });

	fillLive(el, f);
	startPolling();

	return el;
}

function fillLive(el, f) {
	el.className = f.cls || '';
	el.textContent = '';
	if (f.mark != null) {
		el.appendChild(E('span', {
			'class': f.mark ? 'label success' : 'label',
			'style': 'margin-right:.5em'
		}, [ f.mark ? _('online') : _('offline') ]));
	}
	el.appendChild(document.createTextNode(f.text != null ? f.text : '-'));
}

function refreshStatus() {
	return wgd.callStatus().catch(function(e) {
		return { error: e.message };
	}).then(function(status) {
		lastStatus = status;

		document.querySelectorAll('[data-wgd-live]').forEach(function(el) {
			fillLive(el, liveField(el.getAttribute('data-wgd-live'), el.getAttribute('data-wgd-iface'), el.getAttribute('data-wgd-sid')));
		});

		document.querySelectorAll('[data-wgd-iface-state]').forEach(function(el) {
			el.textContent = wgd.interfaceState(lastStatus, el.getAttribute('data-wgd-iface-state')).text;
		});
	});
}

var polling = false;

function startPolling() {
	if (polling)
		return;

	polling = true;
	poll.add(refreshStatus, 5);
	refreshStatus();
}

// Shows the public key of the private key in the form, as soon as there
// is one.
function showPublicKey(section_id, priv) {
	var el = document.querySelector('[data-wgd-public-key="%s"]'.format(section_id));

	if (!el)
		return Promise.resolve();

	if (!priv || wgd.validateKey(section_id, priv) !== true) {
		el.textContent = '-';
		return Promise.resolve();
	}

	return wgd.callPublicKey(priv).then(function(res) {
		el.textContent = res.public_key || '-';
	}).catch(function() {
		el.textContent = '-';
	});
}

// The import dialog: a wg-quick file dropped, chosen or pasted, checked
// field by field before apply(parsed) runs.
function importDialog(title, intro, apply) {
	var text = E('textarea', {
	    	'class': 'cbi-input-textarea',
	    	'style': 'width:100%;height:12em;font-family:monospace',
	    	'placeholder': _('[Interface]\nPrivateKey = ...\n\n[Peer]\nPublicKey = ...\n\nDrop a .conf file here, choose one, or paste it.')
	    }),
	    file = E('input', { 'type': 'file', 'accept': '.conf,text/plain' }),
	    report = E('div', { 'class': 'wgd-import-report' });

	function load(f) {
		if (!f)
			return;
		var r = new FileReader();
		r.onload = function() { text.value = r.result; check(); };
		r.readAsText(f);
	}

	function check() {
		var parsed = wgd.parseWgQuick(text.value);

		report.textContent = '';
		parsed.errors.forEach(function(e) {
			report.appendChild(E('div', { 'class': 'alert-message error' }, [ e ]));
		});
		parsed.notes.forEach(function(e) {
			report.appendChild(E('div', { 'class': 'alert-message notice' }, [ e ]));
		});

		return parsed;
	}

	text.addEventListener('dragover', function(ev) { ev.preventDefault(); });
	text.addEventListener('drop', function(ev) {
		ev.preventDefault();
		load(ev.dataTransfer.files[0]);
	});
	text.addEventListener('input', check);
	file.addEventListener('change', function() { load(file.files[0]); });

	var close = wgd.openDialog(title, [
		E('p', {}, [ intro ]),
		text,
		E('p', {}, [ file ]),
		report,
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'btn cbi-button', 'click': function() { close(); } }, [ _('Cancel') ]),
			' ',
			E('button', {
				'class': 'btn cbi-button cbi-button-positive',
				'click': ui.createHandlerFn(null, function() {
					var parsed = check();

					if (parsed.errors.length)
						return;

					return Promise.resolve(apply(parsed)).then(function(err) {
						if (err)
							report.appendChild(E('div', { 'class': 'alert-message error' }, [ err ]));
						else
							close();
					});
				})
			}, [ _('Import') ])
		])
	]);
}

// The UCI options of an imported [Peer].
function setPeerOptions(sid, p, description) {
	uci.set('network', sid, 'description', description);
	[ 'public_key', 'preshared_key', 'private_key', 'endpoint_host', 'endpoint_port', 'persistent_keepalive' ].forEach(function(k) {
		if (p[k] != null && p[k] !== '')
			uci.set('network', sid, k, p[k]);
	});
	if (p.allowed_ips && p.allowed_ips.length)
		uci.set('network', sid, 'allowed_ips', p.allowed_ips);
}

// A device's own wg-quick file as a peer of this router: its public key
// from its private key, its addresses as the allowed IPs. A file of
// [Peer] sections only: each becomes a peer as it is.
function peersFromImport(parsed) {
	if (!parsed.iface || !parsed.iface.private_key)
		return Promise.resolve(parsed.peers);

	return wgd.callPublicKey(parsed.iface.private_key).then(function(res) {
		if (!res.public_key)
			throw new Error(res.error || _('The private key of [Interface] is not valid'));

		return [ {
			public_key: res.public_key,
			private_key: parsed.iface.private_key,
			preshared_key: parsed.peers.length ? parsed.peers[0].preshared_key : null,
			allowed_ips: parsed.iface.addresses.map(function(a) {
				return a.replace(/\/\d+$/, '') + (a.indexOf(':') > -1 ? '/128' : '/32');
			})
		} ];
	});
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

	// The device is the tunnel wgd makes, named after the interface.
	getDevice: function() {
		return network.instantiateDevice(this.getIfname(), this, tunnelDevice);
	},

	getL3Device: function() {
		var ifname = this._ubus('l3_device');

		return ifname ? network.instantiateDevice(ifname, this, tunnelDevice) : null;
	},

	containsDevice: function(ifname) {
		return (network.getIfnameOf(ifname) == this.getIfname());
	},

	getErrors: function() {
		return wgd.errorsText(this._ubus('errors'));
	},

	errorsText: wgd.errorsText,
	refreshStatus: refreshStatus,
	liveField: liveField,
	peersFromImport: peersFromImport,

	renderFormOptions: function(s) {
		var o, ss, ifname = s.section;

		// -- general ---------------------------------------------------------

		o = s.taboption('general', form.DummyValue, '_state', _('State'));
		o.renderWidget = function(section_id) {
			startPolling();
			return E('span', { 'data-wgd-iface-state': section_id }, [ wgd.interfaceState(lastStatus, section_id).text ]);
		};

		o = s.taboption('general', form.Value, 'private_key', _('Private Key'),
			_('Required. The interface\'s private key, in base64. It stays on the router and is never shown to anyone else.'));
		o.password = true;
		o.validate = wgd.validateKey;
		o.rmempty = false;
		o.onchange = function(ev, section_id, value) {
			return showPublicKey(section_id, value);
		};

		o = s.taboption('general', form.Button, 'generate_key', _('Generate Key'));
		o.inputstyle = 'apply';
		o.onclick = ui.createHandlerFn(this, function(section_id) {
			return wgd.callGenerateKeyPair().then(function(keys) {
				var el = s.getUIElement(section_id, 'private_key');

				el.setValue(keys.priv || '');
				el.triggerValidation();

				var pub = document.querySelector('[data-wgd-public-key="%s"]'.format(section_id));
				if (pub)
					pub.textContent = keys.pub || '-';
			});
		}, s.section);

		o = s.taboption('general', form.DummyValue, '_public_key', _('Public Key'),
			_('Derived from the private key; give it to the peers.'));
		o.renderWidget = function(section_id) {
			var el = E('code', { 'data-wgd-public-key': section_id }, [ '-' ]),
			    priv = uci.get('network', section_id, 'private_key');

			if (priv && wgd.validateKey(section_id, priv) === true) {
				wgd.callPublicKey(priv).then(function(res) {
					el.textContent = res.public_key || '-';
				}).catch(function() {});
			}

			return el;
		};

		o = s.taboption('general', form.Button, '_import', _('Import configuration'),
			_('Fills this interface from a wg-quick file (a .conf): its key, port and addresses; its peers are added.'));
		o.inputstyle = 'action';
		o.inputtitle = _('Load a wg-quick file...');
		o.onclick = function(ev, section_id) {
			importDialog(_('Import a configuration as this interface'),
				_('The [Interface] section fills this form; each [Peer] is added as a peer.'),
				function(parsed) {
					if (!parsed.iface)
						return _('The file has no [Interface] section');

					var set = function(name, value) {
						var el = s.getUIElement(section_id, name);
						if (el && value != null)
							el.setValue(value);
					};

					set('private_key', parsed.iface.private_key);
					set('listen_port', parsed.iface.listen_port);
					set('addresses', parsed.iface.addresses);
					set('mtu', parsed.iface.mtu);
					set('fwmark', parsed.iface.fwmark);
					showPublicKey(section_id, parsed.iface.private_key);

					parsed.peers.forEach(function(p, i) {
						setPeerOptions(uci.add('network', 'wireguard_%s'.format(section_id)), p,
							p.endpoint_host || _('Imported peer %d').format(i + 1));
					});

					return s.map.save(null, true).then(function() { return null; });
				});
		};

		o = s.taboption('general', form.Value, 'listen_port', _('Listen Port'),
			_('Optional. UDP port used for outgoing and incoming packets. wgd opens it in the firewall on the WAN side while the interface is up.'));
		o.datatype = 'port';
		o.placeholder = _('random');
		o.optional = true;

		o = s.taboption('general', form.DynamicList, 'addresses', _('IP Addresses'),
			_('Recommended. The tunnel addresses of this interface, with their prefix lengths.'));
		o.datatype = 'ipaddr';
		o.optional = true;

		o = s.taboption('general', form.Flag, 'nohostroute', _('No Host Routes'),
			_('Optional. Leaves out the routes to the peers\' endpoints through the WAN.'));
		o.optional = true;

		// -- advanced --------------------------------------------------------

		o = s.taboption('advanced', form.Value, 'mtu', _('MTU'),
			_('Optional. Maximum Transmission Unit of the tunnel interface, 576 to 9000, or auto. Empty or auto: it follows the WAN (its MTU less WireGuard\'s overhead, at most 1420).'));
		o.validate = wgd.validateMtu;
		o.placeholder = 'auto';
		o.optional = true;

		o = s.taboption('advanced', form.Value, 'fwmark', _('Firewall Mark'),
			_('Optional. 32-bit mark for outgoing encrypted packets: decimal, or hex starting with <code>0x</code>, or <code>off</code>.'));
		o.validate = wgd.validateFwmark;
		o.placeholder = 'off';
		o.optional = true;

		o = s.taboption('advanced', form.DynamicList, 'ip6prefix', _('IPv6 routed prefix'),
			_('Optional. IPv6 prefixes routed here through the tunnel, handed out to the downstream interfaces.'));
		o.datatype = 'cidr6';
		o.optional = true;

		// -- peers -----------------------------------------------------------

		try {
			s.tab('peers', _('Peers'), _('The remote ends of this tunnel. Changes to peers apply without restarting the interface.'));
		}
		catch (e) {}

		o = s.taboption('peers', form.SectionValue, '_peers', form.GridSection, 'wireguard_%s'.format(ifname));
		o.depends('proto', 'wgd');

		ss = o.subsection;
		ss.anonymous = true;
		ss.addremove = true;
		// Not sortable: WireGuard gives the order of peers no meaning, and
		// the drag handle would push the row's buttons out of the dialog.
		ss.nodescriptions = true;
		ss.addbtntitle = _('Add peer');
		ss.modaltitle = function(section_id) {
			return _('Peer: %s').format(uci.get('network', section_id, 'description') || _('unnamed'));
		};

		ss.renderSectionPlaceholder = function() {
			return E('em', _('No peers defined yet'));
		};

		// Next to "Add peer": a device made by wgd, and an import.
		ss.renderSectionAdd = function(extra_class) {
			var el = form.GridSection.prototype.renderSectionAdd.call(this, extra_class),
			    map = this.map;

			// A user who may only read the configuration may not add
			// peers either (the backend's addPeer needs write access).
			el.appendChild(E('button', {
				'class': 'cbi-button cbi-button-add',
				'disabled': map.readonly || null,
				'title': _('Add a device: keys, an address and its configuration as a QR code'),
				'click': ui.createHandlerFn(this, function() {
					wgd.addDeviceDialog(ifname, function() {
						uci.unload('network');
						return map.load().then(function() { return map.reset(); });
					});
				})
			}, [ _('Add device...') ]));

			el.appendChild(E('button', {
				'class': 'cbi-button cbi-button-action',
				'disabled': map.readonly || null,
				'click': ui.createHandlerFn(this, function() {
					importDialog(_('Import a configuration as a peer'),
						_('A device\'s own wg-quick file (its [Interface] gives the peer\'s key and addresses), or [Peer] sections.'),
						function(parsed) {
							return peersFromImport(parsed).then(function(peers) {
								if (!peers.length)
									return _('The file has no peer');

								peers.forEach(function(p, i) {
									setPeerOptions(uci.add('network', 'wireguard_%s'.format(ifname)), p,
										p.endpoint_host || _('Imported peer %d').format(i + 1));
								});

								return map.save(null, true).then(function() { return null; });
							}).catch(function(e) {
								return e.message;
							});
						});
				})
			}, [ _('Import peer...') ]));

			return el;
		};

		// "Configuration" for a peer whose client key was kept.
		ss.renderRowActions = function(section_id) {
			var td = form.GridSection.prototype.renderRowActions.call(this, section_id),
			    sec = uci.get('network', section_id) || {},
			    name = sec['.anonymous'] ? sec.description : section_id;

			if (sec.private_key && name && td.lastElementChild) {
				td.lastElementChild.insertBefore(E('button', {
					'class': 'btn cbi-button cbi-button-neutral',
					'disabled': this.map.readonly || null,
					'title': _('Show the configuration and QR code of this device'),
					'click': ui.createHandlerFn(this, function() {
						return wgd.showPeerConfig(ifname, name);
					})
				}, [ _('Configuration') ]), td.lastElementChild.firstChild);
			}

			return td;
		};

		o = ss.option(form.Value, 'description', _('Description'), _('Optional. A name to tell this peer by.'));
		o.placeholder = 'phone';
		o.datatype = 'string';
		o.optional = true;
		o.textvalue = function(section_id) {
			return this.cfgvalue(section_id) || E('em', [ _('unnamed') ]);
		};

		o = ss.option(form.DummyValue, '_state', _('State'));
		o.modalonly = false;
		o.textvalue = function(section_id) {
			return renderLive('state', ifname, section_id);
		};

		o = ss.option(form.DynamicList, 'allowed_ips', _('Allowed IPs'),
			_('Optional. The addresses this peer may send from inside the tunnel, and to which traffic for it goes: its tunnel address, and any network behind it.'));
		o.datatype = 'ipaddr';
		o.optional = true;
		o.textvalue = function(section_id) {
			var ips = L.toArray(this.cfgvalue(section_id));
			return ips.length ? ips.join(', ') : E('em', [ _('none') ]);
		};

		// The configured endpoint, and under it the one in use when the
		// peer roamed or connects here (one column: the table must fit
		// LuCI's dialog).
		o = ss.option(form.DummyValue, '_endpoint', _('Endpoint'));
		o.modalonly = false;
		o.textvalue = function(section_id) {
			var ep = configuredEndpoint(section_id);

			return E('span', {}, [
				ep || E('em', { 'title': _('The peer connects here') }, [ _('none') ]),
				E('div', { 'style': 'font-size:90%' }, [ renderLive('inuse', ifname, section_id) ])
			]);
		};

		o = ss.option(form.DummyValue, '_transfer', _('Received / sent'));
		o.modalonly = false;
		o.textvalue = function(section_id) {
			return renderLive('transfer', ifname, section_id);
		};

		o = ss.option(form.DummyValue, '_total', _('Total received / sent'),
			_('Over all sessions of the peer, kept across restarts of wgd.'));
		o.modalonly = false;
		o.textvalue = function(section_id) {
			return renderLive('total', ifname, section_id);
		};

		o = ss.option(form.Flag, 'disabled', _('Peer disabled'),
			_('Keeps the peer in the configuration without using it.'));
		o.optional = true;
		o.modalonly = true;

		o = ss.option(form.Value, 'public_key', _('Public Key'), _('Required. The peer\'s public key, in base64.'));
		o.validate = wgd.validateKey;
		o.rmempty = false;
		o.modalonly = true;

		o = ss.option(form.Value, 'preshared_key', _('Preshared Key'),
			_('Optional. A key this peer and the router share, in base64: a symmetric secret mixed into the handshake, which a future quantum computer could not recover from recorded traffic.'));
		o.password = true;
		o.validate = wgd.validateKey;
		o.optional = true;
		o.modalonly = true;

		o = ss.option(form.Button, 'generate_psk', _('Generate Preshared Key'));
		o.inputstyle = 'apply';
		o.modalonly = true;
		o.onclick = function(ev, section_id) {
			var section = this.section;

			return wgd.callGeneratePsk().then(function(psk) {
				var el = section.getUIElement(section_id, 'preshared_key');

				el.setValue(psk || '');
				el.triggerValidation();
			});
		};

		o = ss.option(form.Flag, 'route_allowed_ips', _('Route Allowed IPs'),
			_('Optional. Routes the peer\'s allowed IPs into this interface.'));
		o.modalonly = true;

		o = ss.option(form.Value, 'endpoint_host', _('Endpoint Host'),
			_('Optional. Host of peer. Names are resolved by wgd and again when the WAN changes; a name that does not resolve leaves the other peers working.'));
		o.placeholder = 'vpn.example.com';
		o.datatype = 'host';
		o.modalonly = true;

		o = ss.option(form.Value, 'endpoint_port', _('Endpoint Port'), _('Optional. The UDP port the peer listens on.'));
		o.placeholder = '51820';
		o.datatype = 'port';
		o.modalonly = true;

		o = ss.option(form.Value, 'persistent_keepalive', _('Persistent Keep Alive'),
			_('Optional. Sends an empty packet to the peer this often (seconds) so that a NAT in between keeps the path open; 25 suits most NATs. 0 or empty: off.'));
		o.datatype = 'range(0,65535)';
		o.placeholder = '0';
		o.modalonly = true;
	},

	deleteConfiguration: function() {
		uci.sections('network', 'wireguard_%s'.format(this.sid), function(s) {
			uci.remove('network', s['.name']);
		});
	}
});
