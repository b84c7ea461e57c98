package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The golden files are answers of protocol version 1, every field known
// today filled (a field added later is added to them). Each must decode
// into today's type with no field left over (a field renamed or removed
// fails here, a field retyped fails to decode) and encode back to the
// same bytes (a field whose JSON changed fails here).
func TestGoldenAnswers(t *testing.T) {
	for _, c := range []struct {
		file string
		v    any
	}{
		{"status.json", &Status{}},
		{"reload.json", &ReloadResult{}},
		{"ifup.json", &IfupResult{}},
		{"hotplug.json", &HotplugAnswer{}},
		{"forget.json", &ForgetAnswer{}},
	} {
		t.Run(c.file, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(golden))
			dec.DisallowUnknownFields()
			if err := dec.Decode(c.v); err != nil {
				t.Fatalf("today's type does not read %s: %v", c.file, err)
			}
			out, err := json.MarshalIndent(c.v, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			if out = append(out, '\n'); !bytes.Equal(out, golden) {
				t.Errorf("%s is not written as before; a field may only be added (add it to the golden file too).\ngot:\n%s\nwant:\n%s", c.file, out, golden)
			}
		})
	}
}

// Every field of the types is in the golden files, so that its
// encoding is pinned: a field added without being added to the golden
// file fails here (an omitempty field would otherwise pass unnoticed).
func TestGoldenHasEveryField(t *testing.T) {
	for _, c := range []struct {
		file string
		t    reflect.Type
	}{
		{"status.json", reflect.TypeFor[Status]()},
		{"reload.json", reflect.TypeFor[ReloadResult]()},
		{"ifup.json", reflect.TypeFor[IfupResult]()},
		{"hotplug.json", reflect.TypeFor[HotplugAnswer]()},
		{"forget.json", reflect.TypeFor[ForgetAnswer]()},
	} {
		golden, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(golden, &v); err != nil {
			t.Fatal(err)
		}
		for _, missing := range missingFields(c.file, c.t, []any{v}) {
			t.Errorf("%s has no %s", c.file, missing)
		}
	}
}

// missingFields lists the JSON fields of type t that none of values
// (decoded JSON of that type) holds, recursively.
func missingFields(path string, t reflect.Type, values []any) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil // a value written as one string
	}
	switch t.Kind() {
	case reflect.Slice:
		var elems []any
		for _, v := range values {
			if a, ok := v.([]any); ok {
				elems = append(elems, a...)
			}
		}
		if len(elems) == 0 {
			return []string{path + "[] element"}
		}
		return missingFields(path+"[]", t.Elem(), elems)
	case reflect.Struct:
		var missing []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			var sub []any
			for _, v := range values {
				if m, ok := v.(map[string]any); ok {
					if e, ok := m[name]; ok {
						sub = append(sub, e)
					}
				}
			}
			if len(sub) == 0 {
				missing = append(missing, path+"."+name)
				continue
			}
			missing = append(missing, missingFields(path+"."+name, f.Type, sub)...)
		}
		return missing
	}
	return nil
}

// A reader of an older release knows fewer fields than the daemon
// writes. The reader below knows what LuCI's status page and protocol
// form read: those fields keep their names and JSON shapes.
func TestOldReaderReadsNewStatus(t *testing.T) {
	type oldPeer struct {
		PublicKey       string   `json:"public_key"`
		EndpointHost    string   `json:"endpoint_host"`
		Endpoint        string   `json:"endpoint"`
		AllowedIPs      []string `json:"allowed_ips"`
		LatestHandshake int64    `json:"latest_handshake"`
		RxBytes         uint64   `json:"rx_bytes"`
		TxBytes         uint64   `json:"tx_bytes"`
	}
	type oldInterface struct {
		Name       string    `json:"name"`
		Up         bool      `json:"up"`
		Error      string    `json:"error"`
		PublicKey  string    `json:"public_key"`
		ListenPort int       `json:"listen_port"`
		Addresses  []string  `json:"addresses"`
		Peers      []oldPeer `json:"peers"`
	}
	type oldStatus struct {
		Problems   []string       `json:"problems"`
		Interfaces []oldInterface `json:"interfaces"`
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Status
	if err := json.Unmarshal(golden, &s); err != nil {
		t.Fatal(err)
	}
	var old oldStatus
	if err := json.Unmarshal(golden, &old); err != nil {
		t.Fatalf("an old reader fails on today's status: %v", err)
	}
	if len(old.Interfaces) != len(s.Interfaces) || len(old.Problems) != len(s.Problems) {
		t.Fatalf("old reader got %d interfaces, %d problems; want %d, %d", len(old.Interfaces), len(old.Problems), len(s.Interfaces), len(s.Problems))
	}
	i, p := old.Interfaces[0], old.Interfaces[0].Peers[0]
	want := s.Interfaces[0]
	if i.Name != want.Name || i.PublicKey != want.PublicKey.String() || i.ListenPort != int(want.ListenPort) || i.Error != want.Error ||
		len(i.Addresses) != len(want.Addresses) || i.Addresses[0] != want.Addresses[0].String() {
		t.Errorf("old reader's interface = %+v, want %+v", i, want)
	}
	wp := want.Peers[0]
	if p.PublicKey != wp.PublicKey.String() || p.Endpoint != wp.Endpoint || p.EndpointHost != wp.EndpointHost ||
		p.LatestHandshake != wp.LatestHandshake || p.RxBytes != wp.RxBytes || p.TxBytes != wp.TxBytes || p.AllowedIPs[0] != wp.AllowedIPs[0].String() {
		t.Errorf("old reader's peer = %+v, want %+v", p, wp)
	}
}

func TestLookups(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Status
	if err := json.Unmarshal(golden, &s); err != nil {
		t.Fatal(err)
	}
	i := s.Interface("wg0")
	if i == nil || i.Name != "wg0" || s.Interface("wg") != nil {
		t.Fatalf("Interface(wg0) = %v, Interface(wg) = %v", i, s.Interface("wg"))
	}
	k := i.Peers[0].PublicKey.String()
	if p := i.Peer(k); p != &i.Peers[0] || i.Peer(k[:10]) != nil {
		t.Errorf("Peer(%s) = %v", k, p)
	}
}
