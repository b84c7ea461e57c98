// Loads a LuCI protocol view the way LuCI's loader does (the file's body
// becomes a function of its 'require'd modules) against small stand-ins
// of LuCI's classes, renders its form and prints what it declared as JSON
// for the Go test: node luci-harness.js wgd.js
'use strict';

const fs = require('fs');

const source = fs.readFileSync(process.argv[2], 'utf8');

const requires = [];
source.replace(/^'require ([\w.]+)';$/mg, (m, name) => { requires.push(name); return m; });

String.prototype.format = function() {
	const args = arguments;
	let i = 0;
	return this.replace(/%[sd]/g, () => String(args[i++]));
};

global._ = (s) => s;
global.E = (tag, attrs, children) => {
	if (Array.isArray(attrs) || typeof attrs !== 'object' || attrs === null) {
		children = attrs;
		attrs = {};
	}
	return { tag: tag, attrs: attrs, children: children };
};
global.L = { bind: (fn, ctx) => fn.bind(ctx) };

const out = { requires: requires, rpc: [], errors: {}, polls: [], options: [], peerOptions: [] };
const uciValues = {};

const stubs = {
	ui: { createHandlerFn: (ctx, fn) => fn },
	uci: {
		get: (conf, sid, opt) => (uciValues[conf + '.' + sid] || {})[opt],
		sections: () => [],
		remove: () => {}
	},
	rpc: {
		declare: (d) => {
			out.rpc.push(d);
			return () => Promise.resolve({});
		}
	},
	poll: { add: (fn, interval) => { out.polls.push(interval); } },
	form: {
		Value: 'Value', Button: 'Button', DynamicList: 'DynamicList', Flag: 'Flag',
		DummyValue: 'DummyValue', SectionValue: 'SectionValue', TypedSection: 'TypedSection'
	},
	network: {
		registerProtocol: (name, methods) => { out.name = name; return methods; },
		registerErrorCode: (code, text) => { out.errors[code] = text; },
		getIfnameOf: () => null
	}
};

function option(list, cls, name, extra) {
	const o = { class: cls, name: name, depends: [], ...extra };
	o.depends = (k, v) => { o.deps = (o.deps || []).concat([[k, v]]); };
	list.push(o);
	return o;
}

const section = {
	section: 'wg0',
	tabs: [],
	tab: function(name) { this.tabs.push(name); },
	// For a SectionValue the arguments after the name are the class and
	// the type of the section it holds, as in LuCI's form.js.
	taboption: function(tab, cls, name, title, descr) {
		const o = option(out.options, cls, name, { tab: tab, title: title });
		if (cls === 'SectionValue') {
			o.subsectionType = descr;
			o.subsection = { option: (c, n, t) => option(out.peerOptions, c, n, { title: t }) };
		}
		return o;
	}
};

const factory = new Function(requires.join(','), source);
const proto = factory.apply(null, requires.map((r) => stubs[r]));

out.i18n = proto.getI18n();
out.opkg = proto.getOpkgPackage();
out.floating = proto.isFloating();
out.virtual = proto.isVirtual();
proto.renderFormOptions(section);

const plain = (list) => list.map((o) => {
	const p = {};
	for (const k of ['class', 'name', 'tab', 'datatype', 'password', 'rmempty', 'optional', 'placeholder', 'subsectionType', 'deps'])
		if (o[k] !== undefined && typeof o[k] !== 'function')
			p[k] = o[k];
	p.validates = typeof o.validate === 'function';
	if (typeof o.validate === 'function') {
		p.validateSamples = {
			good: o.validate('wg0', o.name === 'fwmark' ? '0x1234' : 'sGDoYpUG5FV0tPw/4sX/dmRMKm+VOdZ5C0W0rIsLHGI='),
			bad: o.validate('wg0', 'nonsense'),
			empty: o.validate('wg0', '')
		};
	}
	return p;
});

// The live status of a peer, as the peers' Status field renders it.
const status = out.peerOptions.find((o) => o.name === '_status');
uciValues['network.peer1'] = { public_key: 'PUB1' };
out.statusWidget = status.renderWidget('peer1');

const now = 1700000000;
const iface = { name: 'wg0', up: true, peers: [{ public_key: 'PUB1', latest_handshake: now - 42, endpoint: '198.51.100.7:51820', rx_bytes: 1536, tx_bytes: 3 * 1048576 }] };
out.statusTexts = {
	live: proto.peerStatusText(iface, iface.peers[0], now),
	never: proto.peerStatusText(iface, { public_key: 'P', latest_handshake: 0, rx_bytes: 0, tx_bytes: 0 }, now),
	down: proto.peerStatusText({ name: 'wg0', up: false, error: 'no TUN', peers: [] }, null, now),
	unknown: proto.peerStatusText(null, null, now)
};

out.options = plain(out.options);
out.peerOptions = plain(out.peerOptions);
out.tabs = section.tabs;
process.stdout.write(JSON.stringify(out));
