// Loads LuCI views the way LuCI's loader does (a file's body becomes a
// function of the modules it 'require's, `'require a.b as c'` included)
// against small stand-ins of LuCI's classes and of the DOM, runs what the
// Go test asks for and prints the results as JSON:
//
//   node luci-harness.js RESOURCES_DIR < input.json
//
// input: {"validate": {"mtu": [...], "fwmark": [...], "key": [...]},
//         "peerStates": [{"status", "ifname", "peer", "now"}],
//         "ifaceStates": [{"status", "ifname"}], "errors": [[...]],
//         "wgQuick": ["text"], "statusPage": STATUS, "rpc": {METHOD: ANSWER},
//         "expiry": [{"value", "now"}], "netifd": [netifd's interface dump]}
'use strict';

const fs = require('fs');
const path = require('path');

const resources = process.argv[2];
const input = JSON.parse(fs.readFileSync(0, 'utf8'));

String.prototype.format = function() {
	const args = arguments;
	let i = 0;
	return this.replace(/%[sd]/g, () => String(args[i++]));
};

// -- a small DOM ------------------------------------------------------------

class Node {
	constructor(tag, attrs) {
		this.tag = tag;
		this.attrs = attrs || {};
		this.children = [];
		this.className = this.attrs['class'] || '';
		this.listeners = {};
		this.style = {};
	}
	get classList() {
		const n = this;
		return {
			contains: (c) => n.className.split(' ').indexOf(c) > -1,
			add: (c) => { n.className = (n.className + ' ' + c).trim(); },
			remove: (c) => { n.className = n.className.split(' ').filter((x) => x !== c).join(' '); }
		};
	}
	appendChild(c) { this.children.push(c); return c; }
	insertBefore(c, ref) {
		const i = this.children.indexOf(ref);
		this.children.splice(i < 0 ? this.children.length : i, 0, c);
		return c;
	}
	removeChild(c) { this.children = this.children.filter((x) => x !== c); }
	get firstChild() { return this.children[0] || null; }
	get lastElementChild() { return [...this.children].reverse().find((c) => c instanceof Node) || null; }
	get parentNode() { return null; }
	set textContent(t) { this.children = (t === '' || t == null) ? [] : [String(t)]; }
	get textContent() { return text(this); }
	getAttribute(k) { return this.attrs[k]; }
	addEventListener(ev, fn) { this.listeners[ev] = fn; }
	querySelector() { return null; }
}

function append(node, children) {
	if (children == null)
		return;
	if (!Array.isArray(children))
		children = [children];
	for (const c of children)
		if (c != null && c !== '')
			node.appendChild(c);
}

global.E = (tag, attrs, children) => {
	if (Array.isArray(attrs) || typeof attrs !== 'object' || attrs === null || attrs instanceof Node) {
		children = attrs;
		attrs = {};
	}
	const n = new Node(Array.isArray(tag) ? 'fragment' : tag, attrs);
	append(n, Array.isArray(tag) ? tag : children);
	return n;
};

function text(n) {
	if (n == null)
		return '';
	if (typeof n !== 'object')
		return String(n);
	return n.children.map(text).join('');
}

// find returns the nodes of tree (depth first) for which test is true.
function find(n, test, out) {
	out = out || [];
	if (n instanceof Node) {
		if (test(n))
			out.push(n);
		n.children.forEach((c) => find(c, test, out));
	}
	return out;
}

global.document = {
	querySelector: () => null,
	querySelectorAll: () => [],
	createTextNode: (t) => String(t)
};
global._ = (s) => s;
global.L = {
	hasViewPermission: () => !input.readonly,
	bind: (fn, ctx) => fn.bind(ctx),
	toArray: (v) => (v == null ? [] : Array.isArray(v) ? v : String(v).split(/\s+/).filter(Boolean))
};

// -- LuCI's classes ---------------------------------------------------------

const out = { rpc: [], errors: {}, polls: [], options: [], peerOptions: [], modals: [], notifications: [] };
const rpcAnswers = input.rpc || {};
const rpcCalls = [];

// The network configuration the views read: interface wg0 and its peers.
const uciData = input.uci || {};
let uciSeq = 0;

const stubs = {
	baseclass: { extend: (proto) => function() { Object.assign(this, proto); } },
	view: { extend: (proto) => function() { Object.assign(this, proto); } },
	dom: { content: (node, c) => { node.children = []; append(node, c); } },
	ui: {
		createHandlerFn: (ctx, fn, ...args) => (ev) => fn.apply(ctx, args.concat([ev])),
		showModal: (title, children) => { out.modals.push({ title: title, node: E('div', {}, children) }); },
		hideModal: () => { out.modals.push({ hidden: true }); },
		addNotification: (title, node, cls) => { out.notifications.push(text(node)); }
	},
	uci: {
		get: (conf, sid, opt) => {
			const s = uciData[sid];
			return (opt == null) ? s : (s || {})[opt];
		},
		set: (conf, sid, opt, val) => { (uciData[sid] = uciData[sid] || {})[opt] = val; },
		add: (conf, type) => {
			const sid = 'cfg' + (++uciSeq);
			uciData[sid] = { '.name': sid, '.type': type, '.anonymous': true };
			return sid;
		},
		sections: (conf, type, cb) => {
			const list = Object.keys(uciData).filter((k) => uciData[k]['.type'] === type)
				.map((k) => Object.assign({ '.name': k }, uciData[k]));
			if (cb)
				list.forEach(cb);
			return list;
		},
		remove: (conf, sid) => { delete uciData[sid]; },
		unload: () => {},
		load: () => Promise.resolve()
	},
	rpc: {
		declare: (d) => {
			out.rpc.push(d);
			return function() {
				rpcCalls.push({ method: d.method, args: Array.from(arguments) });
				const a = rpcAnswers[d.method];
				return a && a.reject ? Promise.reject(new Error(a.reject)) : Promise.resolve(a === undefined ? {} : a);
			};
		}
	},
	poll: { add: (fn, interval) => { out.polls.push(interval); } },
	form: {
		Value: 'Value', Button: 'Button', DynamicList: 'DynamicList', Flag: 'Flag',
		DummyValue: 'DummyValue', SectionValue: 'SectionValue', TypedSection: 'TypedSection',
		GridSection: {
			prototype: {
				renderSectionAdd: () => E('div', { 'class': 'cbi-section-create' }, [ E('button', { 'class': 'add' }, [ 'Add peer' ]) ]),
				renderRowActions: () => E('td', {}, [ E('div', {}, [ E('button', { 'class': 'edit' }, [ 'Edit' ]) ]) ])
			}
		}
	},
	network: {
		registerProtocol: (name, methods) => { out.name = name; return methods; },
		registerErrorCode: (code, message) => { out.errors[code] = message; },
		getIfnameOf: () => null,
		instantiateDevice: (name, net, extend) => Object.assign({ name: name }, extend)
	}
};

// load evaluates the module at resources/NAME (dots are directories).
const loaded = {};
function load(name) {
	if (stubs[name])
		return stubs[name];
	if (loaded[name])
		return loaded[name];
	const source = fs.readFileSync(path.join(resources, name.replace(/\./g, '/') + '.js'), 'utf8');
	const names = [], mods = [];
	source.replace(/^'require ([\w.]+)(?: as (\w+))?';$/mg, (m, req, alias) => {
		names.push(alias || req.split('.').pop());
		mods.push(load(req));
		return m;
	});
	const result = new Function(names.join(','), source).apply(null, mods);
	// LuCI instantiates what a module returns; a protocol is a class.
	loaded[name] = (typeof result === 'function' && name.indexOf('protocol.') !== 0) ? new result() : result;
	return loaded[name];
}

// -- the protocol form --------------------------------------------------------

function option(list, cls, name, extra) {
	const o = { class: cls, name: name, ...extra };
	o.depends = (k, v) => { o.deps = (o.deps || []).concat([[k, v]]); };
	list.push(o);
	return o;
}

const setValues = {};
const section = {
	section: 'wg0',
	tabs: [],
	tab: function(name) { this.tabs.push(name); },
	getUIElement: (sid, name) => ({
		setValue: (v) => { setValues[name] = v; },
		triggerValidation: () => {}
	}),
	map: { readonly: input.readonly || undefined, save: () => { out.mapSaved = true; return Promise.resolve(); } },
	// For a SectionValue the arguments after the name are the class and
	// the type of the section it holds, as in LuCI's form.js.
	taboption: function(tab, cls, name, title, descr) {
		const o = option(out.options, cls, name, { tab: tab, title: title });
		if (cls === 'SectionValue') {
			o.subsectionClass = title === stubs.form.GridSection ? 'GridSection' : String(title);
			o.subsectionType = descr;
			o.subsection = {
				map: section.map,
				option: (c, n, t) => option(out.peerOptions, c, n, { title: t })
			};
		}
		return o;
	}
};

const proto = load('protocol.wgd');
const wgd = load('tools.wgd');

out.i18n = proto.getI18n();
out.opkg = proto.getOpkgPackage();
proto.renderFormOptions(section);
const peers = out.options.find((o) => o.name === '_peers').subsection;

const plain = (list) => list.map((o) => {
	const p = {};
	for (const k of ['class', 'name', 'tab', 'datatype', 'password', 'rmempty', 'optional', 'placeholder', 'subsectionType', 'subsectionClass', 'deps', 'modalonly'])
		if (o[k] !== undefined && typeof o[k] !== 'function')
			p[k] = o[k];
	p.validates = typeof o.validate === 'function';
	p.textvalue = typeof o.textvalue === 'function';
	return p;
});

// -- what the test asks for -------------------------------------------------

const res = {};
const v = input.validate || {};
res.validate = {
	mtu: (v.mtu || []).map((x) => wgd.validateMtu('wg0', x) === true),
	fwmark: (v.fwmark || []).map((x) => wgd.validateFwmark('wg0', x) === true),
	key: (v.key || []).map((x) => wgd.validateKey('wg0', x) === true),
	// The form's own validators are the shared ones.
	formMtu: out.options.find((o) => o.name === 'mtu').validate === wgd.validateMtu,
	formFwmark: out.options.find((o) => o.name === 'fwmark').validate === wgd.validateFwmark
};
res.expiry = (input.expiry || []).map((c) => ({ parsed: wgd.parseExpiry(c.value, c.now), valid: wgd.validateExpiry(c.value, c.now) === true }));
res.peerStates = (input.peerStates || []).map((c) => wgd.peerState(c.status, c.ifname, c.peer, c.now));
res.ifaceStates = (input.ifaceStates || []).map((c) => wgd.interfaceState(c.status, c.ifname, c.errors));
res.errorTexts = (input.errors || []).map((e) => proto.errorsText(e));
res.wgQuick = (input.wgQuick || []).map((t) => wgd.parseWgQuick(t));
const dev = proto.getDevice.call({ getIfname: () => 'wg0' });
res.device = { name: dev.name, type: dev.getType(), typeI18n: dev.getTypeI18n() };

res.rowActions = find(peers.renderRowActions('peer1'), (n) => n.tag === 'button').map(text);
res.rowActionsNoKey = find(peers.renderRowActions('peer2'), (n) => n.tag === 'button').map(text);
res.addButtons = find(peers.renderSectionAdd(), (n) => n.tag === 'button').map(text);
// The buttons that need write access, and whether each is disabled.
const disabled = (nodes) => nodes.filter((n) => n.tag === 'button' && text(n) !== 'Add peer' && text(n) !== 'Edit')
	.map((n) => [text(n), !!n.attrs.disabled]);
res.writeButtons = disabled(find(peers.renderRowActions('peer1'), () => true).concat(find(peers.renderSectionAdd(), () => true)));

// The peers table: the rows of the uci peer sections, once the status
// (rpc answer "status") is in.
const rows = () => {
	const out2 = {};
	for (const sid of Object.keys(uciData).filter((k) => uciData[k]['.type'] === 'wireguard_wg0')) {
		out2[sid] = {};
		for (const o of out.peerOptions)
			if (typeof o.textvalue === 'function' && !o.modalonly)
				out2[sid][o.name] = text(o.textvalue.call({ cfgvalue: (s) => uciData[s] && uciData[s][o.name] }, sid));
	}
	return out2;
};
res.rowsBefore = rows();
const tasks = [proto.refreshStatus().then(() => { res.rows = rows(); })];

// The status page.
if (input.statusPage !== undefined) {
	const page = load('view.wgd.status');
	const node = page.renderAll(input.statusPage, input.netifd);
	const doctor = page.renderDoctor(input.doctor);
	res.statusPage = {
		text: text(node),
		doctor: text(doctor),
		findings: find(doctor, (n) => n.attrs['data-wgd-finding']).map((n) => n.attrs['data-wgd-finding']),
		ifaces: find(node, (n) => n.attrs['data-wgd-iface']).map((n) => [n.attrs['data-wgd-iface'], n.attrs['data-wgd-state']]),
		peers: find(node, (n) => n.attrs['data-wgd-peer-state']).map((n) => n.attrs['data-wgd-peer-state']),
		daemon: find(node, (n) => n.attrs['data-wgd-daemon']).map((n) => n.attrs['data-wgd-daemon']),
		writeButtons: disabled(find(node, () => true))
	};
}

// The "Add device" dialog: fill it, press Add, read what is shown.
if (input.addDevice) {
	out.modals = [];
	let done = null;
	wgd.addDeviceDialog('wg0', (client) => { done = client.name; });
	const dlg = out.modals[0].node;
	const inputs = find(dlg, (n) => n.tag === 'input');
	const select = find(dlg, (n) => n.tag === 'select')[0];
	inputs[0].value = input.addDevice.name;
	select.value = input.addDevice.mode;
	inputs[1].value = input.addDevice.dns;
	find(dlg, (n) => n.tag === 'input' && n.attrs.type === 'checkbox')[0].checked = !!input.addDevice.keep;
	find(dlg, (n) => n.tag === 'input' && /\bwgd-expires\b/.test(n.attrs['class']))[0].value = input.addDevice.expires || '';
	const add = find(dlg, (n) => n.tag === 'button' && text(n) === 'Add device')[0];
	tasks.push(Promise.resolve(add.attrs.click()).then(() => {
		const shown = out.modals.slice(1).filter((m) => !m.hidden).map((m) => ({
			title: m.title,
			text: text(m.node),
			images: find(m.node, (n) => n.tag === 'img').map((n) => n.attrs.src),
			downloads: find(m.node, (n) => n.tag === 'a').map((n) => n.attrs.download)
		}));
		res.addDevice = {
			calls: rpcCalls.filter((c) => c.method === 'addPeer'),
			error: text(find(dlg, (n) => n.attrs['class'] === 'wgd-add-error')[0]),
			dialog: text(dlg),
			placeholders: find(dlg, (n) => n.tag === 'input' && n.attrs.placeholder).map((n) => n.attrs.placeholder),
			shown: shown,
			done: done
		};
	}));
}

if (input.showPeer) {
	tasks.push(Promise.resolve(wgd.showPeerConfig('wg0', 'laptop')).then(() => { res.notifications = out.notifications; },
		(e) => { res.notifications = ['unhandled: ' + e.message]; }));
}

// A dialog opened while LuCI's modal (the interface editor) is open
// stacks on it and gives it back on close.
if (input.stacked) {
	const editor = E('div', { 'class': 'modal' }, [ E('h4', {}, [ 'Interfaces » wg0' ]), E('div', { 'class': 'cbi-map' }, [ 'form' ]), E('div', { 'class': 'button-row' }, [ 'Save' ]) ]);
	editor.children[2].style.display = 'none'; // already hidden: stays hidden
	const before = out.modals.length;
	global.document = Object.assign({}, global.document, {
		querySelector: (sel) => (sel === '#modal_overlay > .modal' ? editor : null),
		body: { classList: { contains: (c) => c === 'modal-overlay-active' } }
	});
	const close = wgd.openDialog('Add', [ E('p', {}, [ 'dialog' ]) ]);
	const shown = editor.children.map((n) => [ text(n), n.style.display || '' ]);
	close();
	res.stacked = {
		open: shown,
		closed: editor.children.map((n) => [ text(n), n.style.display || '' ]),
		modals: out.modals.length - before
	};
}

// Import as a peer: the file becomes UCI options of new peer sections.
if (input.importPeer) {
	tasks.push(proto.peersFromImport(wgd.parseWgQuick(input.importPeer)).then((p) => { res.importPeer = p; },
		(e) => { res.importPeer = { error: e.message }; }));
}

Promise.all(tasks).then(() => {
	res.rpc = out.rpc;
	res.errors = out.errors;
	res.polls = out.polls;
	res.name = out.name;
	res.i18n = out.i18n;
	res.opkg = out.opkg;
	res.tabs = section.tabs;
	res.options = plain(out.options);
	res.peerOptions = plain(out.peerOptions);
	process.stdout.write(JSON.stringify(res));
}, (e) => {
	process.stderr.write(String(e && e.stack || e));
	process.exit(1);
});
