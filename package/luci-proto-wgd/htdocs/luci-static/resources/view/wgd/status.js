'use strict';
'require view';
'require poll';
'require dom';
'require uci';
'require rpc';
'require tools.wgd as wgd';

// Status > wgd: every wgd tunnel and its peers at a glance (state,
// handshake age, traffic, endpoints), the firewall's state, the last WAN
// event and the daemon's configuration problems; refreshed every 5 s.
// Below, what `wgd doctor` finds, checked again every 30 s.

// netifd's interfaces: what it keeps of a failed setup (the handler's
// reason) is shown where the daemon has none.
var callInterfaceDump = rpc.declare({
	object: 'network.interface',
	method: 'dump',
	expect: { 'interface': [] }
});

function now() {
	return Math.floor(Date.now() / 1000);
}

// The peer sections of the configuration by interface and public key:
// their names and whether they are disabled, which the daemon does not
// report (it does not run disabled peers).
function configuredPeers(ifname) {
	return uci.sections('network', 'wireguard_%s'.format(ifname)).map(function(s) {
		// What `wgd peer show` finds it by: the section's name, else
		// (anonymous, as LuCI makes them) its description.
		var ref = s['.anonymous'] ? s.description : s['.name'];

		return {
			ref: ref,
			name: s.description || (s['.anonymous'] ? null : s['.name']),
			public_key: s.public_key,
			disabled: s.disabled,
			kept: !!s.private_key && !!ref
		};
	});
}

function peerRows(status, ifname) {
	return configuredPeers(ifname).map(function(p) {
		var st = wgd.peerState(status, ifname, p, now()),
		    live = wgd.peerTraffic(status, ifname, p.public_key),
		    running = (st.kind == 'online' || st.kind == 'offline' || st.kind == 'never');

		return E('tr', { 'class': 'tr', 'data-wgd-peer-state': st.kind }, [
			E('td', { 'class': 'td', 'data-title': _('Peer') }, [
				p.name || E('em', [ _('unnamed') ]),
				E('br'),
				E('small', { 'style': 'font-family:monospace' }, [ p.public_key || '?' ])
			]),
			E('td', { 'class': 'td', 'data-title': _('State') }, [
				st.online != null ? E('span', { 'class': st.online ? 'label success' : 'label', 'style': 'margin-right:.5em' },
					[ st.online ? _('online') : _('offline') ]) : '',
				st.text
			]),
			E('td', { 'class': 'td', 'data-title': _('Endpoint') }, [ (running && live.endpoint) || '-' ]),
			E('td', { 'class': 'td', 'data-title': _('Received / sent') }, [ (running && live.transfer) || '-' ]),
			E('td', { 'class': 'td', 'data-title': _('Total received / sent') }, [ live.total || '-' ]),
			E('td', { 'class': 'td', 'data-title': '' }, [
				p.kept ? E('button', {
					'class': 'btn cbi-button cbi-button-neutral',
					'disabled': L.hasViewPermission() ? null : true,
					'click': function() { return wgd.showPeerConfig(ifname, p.ref); }
				}, [ _('Configuration') ]) : ''
			])
		]);
	});
}

function renderInterface(status, ifname, errors) {
	var st = wgd.interfaceState(status, ifname, errors),
	    iface = wgd.findInterface(status, ifname),
	    rows = peerRows(status, ifname);

	return E('div', { 'class': 'cbi-section', 'data-wgd-iface': ifname, 'data-wgd-state': st.kind }, [
		E('h3', {}, [ _('Interface %s').format(ifname) ]),
		E('p', {}, [
			E('strong', {}, [ st.text ]),
			iface && iface.public_key ? E('span', {}, [ ' · ', _('public key'), ' ', E('code', {}, [ iface.public_key ]) ]) : '',
			iface && Array.isArray(iface.addresses) && iface.addresses.length ? ' · ' + iface.addresses.join(', ') : ''
		]),
		E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Peer') ]),
				E('th', { 'class': 'th' }, [ _('State') ]),
				E('th', { 'class': 'th' }, [ _('Current endpoint') ]),
				E('th', { 'class': 'th' }, [ _('Received / sent') ]),
				E('th', { 'class': 'th', 'title': _('Over all sessions of the peer, kept across restarts of wgd') }, [ _('Total received / sent') ]),
				E('th', { 'class': 'th' }, [ ' ' ])
			])
		].concat(rows.length ? rows : [
			E('tr', { 'class': 'tr placeholder' }, [ E('td', { 'class': 'td' }, [ E('em', [ _('No peers') ]) ]) ])
		])),
		E('div', { 'class': 'right' }, [
			E('button', {
				'class': 'btn cbi-button cbi-button-add',
				// Read-only users (the page's ACL for reading only) may
				// not add devices nor see a kept client key.
				'disabled': L.hasViewPermission() ? null : true,
				'click': function() { wgd.addDeviceDialog(ifname, function() { uci.unload('network'); return uci.load('network'); }); }
			}, [ _('Add device...') ])
		])
	]);
}

// The daemon-wide lines: firewall, WAN events, configuration problems.
function renderDaemon(status) {
	if (wgd.daemonStopped(status))
		return E('div', { 'class': 'alert-message warning', 'data-wgd-daemon': 'stopped' }, [
			_('The wgd service is not running: no tunnel is up. Start it in System > Startup, or see the system log.')
		]);

	var lines = [], fw = status.firewall || {}, hp = status.hotplug || {};

	if (fw.backend) {
		var holes = (Array.isArray(fw.holes) ? fw.holes : []).map(function(h) {
			return 'udp/%s (%s)'.format(h.port, h.interface);
		});
		// "none": wgd opens nothing itself; under netifd the wgd service
		// hands these ports to the firewall (fw4) as its rules.
		lines.push(E('li', {}, [ fw.backend == 'none' ? _('Listen ports for the firewall') : _('Firewall: %s').format(fw.backend),
			holes.length ? ': ' + holes.join(', ') : '',
			fw.error ? ', ' + _('error: %s').format(fw.error) : '' ]));
	}

	if (hp.last_wan_event) {
		var t = Math.floor(Date.parse(hp.last_wan_event.time) / 1000);
		lines.push(E('li', {}, [ _('Last WAN event: %s').format(
			[ hp.last_wan_event.action, hp.last_wan_event.interface ].filter(Boolean).join(' ')),
			isNaN(t) ? '' : ' (' + wgd.formatAge(Math.max(0, now() - t)) + ')' ]));
	}

	(Array.isArray(status.problems) ? status.problems : []).forEach(function(p) {
		lines.push(E('li', { 'class': 'wgd-problem' }, [ _('Configuration: %s').format(p) ]));
	});

	return E('ul', { 'data-wgd-daemon': 'running' }, lines);
}

// renderDoctor lists what `wgd doctor` found wrong, each with what to do;
// the checks that passed are only counted.
function renderDoctor(report) {
	if (!report)
		return E('div', { 'id': 'wgd-doctor' });

	if (report.error || !Array.isArray(report.findings))
		return E('div', { 'id': 'wgd-doctor', 'class': 'cbi-section' }, [
			E('h3', {}, [ _('Diagnosis') ]),
			E('p', {}, [ E('em', [ report.error || _('No report.') ]) ])
		]);

	var label = { fail: [ 'label danger', _('problem') ], warn: [ 'label warning', _('warning') ], info: [ 'label', _('note') ] },
	    shown = report.findings.filter(function(f) { return f.severity != 'ok'; }),
	    passed = report.findings.length - shown.length;

	return E('div', { 'id': 'wgd-doctor', 'class': 'cbi-section' }, [
		E('h3', {}, [ _('Diagnosis') ]),
		E('ul', {}, shown.map(function(f) {
			var l = label[f.severity] || label.info;

			return E('li', { 'data-wgd-finding': f.severity }, [
				E('span', { 'class': l[0], 'style': 'margin-right:.5em' }, [ l[1] ]),
				f.interface ? f.interface + ': ' : '', f.message,
				f.fix ? E('div', { 'style': 'margin-left:1em' }, [ E('small', {}, [ '→ ', f.fix ]) ]) : ''
			]);
		})),
		E('p', {}, [ shown.length
			? _('%d other checks passed.').format(passed)
			: _('No problem found: all %d checks passed.').format(passed) ])
	]);
}

// The interfaces to show: those of the configuration with proto wgd,
// and any other the daemon reports.
function interfaceNames(status) {
	var names = uci.sections('network', 'interface').filter(function(s) {
		return s.proto == 'wgd';
	}).map(function(s) { return s['.name']; });

	if (!wgd.daemonStopped(status))
		status.interfaces.forEach(function(i) {
			if (names.indexOf(i.name) < 0)
				names.push(i.name);
		});

	return names;
}

// status: the answer of `wgd status`; ifaces: netifd's interface dump.
function renderAll(status, ifaces) {
	var names = interfaceNames(status), errors = {};

	(Array.isArray(ifaces) ? ifaces : []).forEach(function(i) {
		if (i && i.proto == 'wgd')
			errors[i['interface']] = wgd.errorsText(i.errors);
	});

	return E('div', { 'id': 'wgd-status' }, [ renderDaemon(status) ].concat(names.length ? names.map(function(n) {
		return renderInterface(status, n, errors[n]);
	}) : [ E('p', {}, [ E('em', [ _('No interface uses the protocol WireGuard (wgd) yet: add one in Network > Interfaces.') ]) ]) ]));
}

// [status, netifd's interfaces]
function load() {
	return Promise.all([
		wgd.callStatus().catch(function(e) { return { error: e.message }; }),
		callInterfaceDump().catch(function() { return []; }),
		uci.load('network')
	]).then(function(r) { return [ r[0], r[1] ]; });
}

function loadDoctor() {
	return wgd.callDoctor().catch(function(e) { return { error: e.message }; });
}

return view.extend({
	load: function() {
		return Promise.all([ load(), loadDoctor() ]);
	},

	render: function(data) {
		var live = data[0], report = data[1];
		var root = E('div', {}, [
			E('h2', {}, [ _('wgd') ]),
			E('p', { 'class': 'cbi-map-descr' }, [ _('The WireGuard tunnels of wgd and their peers, refreshed every 5 seconds.') ]),
			renderAll(live[0], live[1]),
			renderDoctor(report)
		]);

		poll.add(function() {
			return loadDoctor().then(function(r) {
				var old = root.querySelector('#wgd-doctor');
				if (old)
					old.parentNode.replaceChild(renderDoctor(r), old);
			});
		}, 30);

		poll.add(function() {
			return load().then(function(st) {
				var old = root.querySelector('#wgd-status');
				if (old)
					old.parentNode.replaceChild(renderAll(st[0], st[1]), old);
			});
		}, 5);

		return root;
	},

	renderAll: renderAll,
	renderDoctor: renderDoctor,

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
