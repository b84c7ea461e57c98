package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMTUAuto(t *testing.T) {
	for value, want := range map[string]int{"": 0, "option mtu 'auto'": 0, "option mtu '1380'": 1380} {
		dir := write(t, map[string]string{"network": "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\t" + value + "\n"})
		cfg, problems := Load(dir)
		if len(problems) != 0 || cfg.Interface("wg0") == nil || cfg.Interface("wg0").MTU != want {
			t.Errorf("%q: %+v %v, want MTU %d", value, cfg.Interfaces, problems, want)
		}
	}
}

func TestExpires(t *testing.T) {
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\n" +
		"config wireguard_wg0\n\toption description 'guest'\n\toption public_key '" + laptopPub + "'\n\toption expires '2026-12-04T18:00:00+01:00'\n\n" +
		"config wireguard_wg0\n\toption description 'dated'\n\toption public_key '" + phonePub + "'\n\toption expires '2027-01-31'\n\n" +
		"config wireguard_wg0\n\toption description 'broken'\n\toption public_key '" + psk + "'\n\toption expires 'next friday'\n"
	dir := write(t, map[string]string{"network": text})
	cfg, problems := Load(dir)
	wg0 := cfg.Interface("wg0")
	if wg0 == nil || len(wg0.Peers) != 2 {
		t.Fatalf("want the two good peers, got %+v (%v)", cfg.Interfaces, problems)
	}
	if got := wg0.Peers[0].Expires; !got.Equal(time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("guest expires %v", got)
	}
	if got := wg0.Peers[1].Expires; !got.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("dated expires %v", got)
	}
	var bad *Problem
	for _, p := range problems {
		if !p.Warning {
			if bad != nil {
				t.Fatalf("more than one error: %v", problems)
			}
			bad = p
		}
	}
	if bad == nil || bad.Option != "expires" || bad.File != filepath.Join(dir, "network") ||
		bad.Line != strings.Count(text[:strings.Index(text, "next friday")], "\n")+1 || !strings.Contains(bad.Msg, "not a time") {
		t.Errorf("the malformed expiry: %+v", bad)
	}

	before := time.Date(2026, 12, 4, 16, 59, 59, 0, time.UTC)
	at := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	if k := wg0.Expired(before); len(k) != 0 {
		t.Errorf("a second before: expired %v", k)
	}
	if k := wg0.Expired(at); len(k) != 1 || k[0] != wg0.Peers[0].PublicKey {
		t.Errorf("at expiry: expired %v, want the guest's key", k)
	}
	if a := wg0.Without(wg0.Expired(at)); len(a.Peers) != 1 || a.Peers[0].Description != "dated" || len(wg0.Peers) != 2 {
		t.Errorf("without the expired: %+v (the configuration itself keeps both: %d)", a.Peers, len(wg0.Peers))
	}
	if n := cfg.NextExpiry(before); !n.Equal(at) {
		t.Errorf("next expiry %v, want %v", n, at)
	}
	if n := cfg.NextExpiry(at); !n.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("next expiry after the first %v", n)
	}
	if n := cfg.NextExpiry(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)); !n.IsZero() {
		t.Errorf("nothing left to expire: %v", n)
	}
}

func TestParseExpiryFrom(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 500, time.UTC)
	for in, want := range map[string]time.Time{
		"30m":                  now.Add(30 * time.Minute).Truncate(time.Second),
		"48h":                  now.Add(48 * time.Hour).Truncate(time.Second),
		"7d":                   now.Add(7 * 24 * time.Hour).Truncate(time.Second),
		"1d12h":                now.Add(36 * time.Hour).Truncate(time.Second),
		"2026-12-31":           time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		"2026-12-24T20:00:00Z": time.Date(2026, 12, 24, 20, 0, 0, 0, time.UTC),
	} {
		got, err := ParseExpiryFrom(in, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0h", "-5m", "soon", "7x", "d", "2026-12-01", "2026-13-01", "99999999d"} {
		if got, err := ParseExpiryFrom(in, now); err == nil {
			t.Errorf("%q: %v, want an error", in, got)
		}
	}
}

func FuzzParseExpiryFrom(f *testing.F) {
	for _, s := range []string{"48h", "7d", "1d12h", "2026-12-31", "2026-12-24T20:00:00+01:00", "d", "99999d99999h"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiryFrom(s, now)
		if err == nil && (!got.After(now) || got.Location() != time.UTC || got.Nanosecond() != 0) {
			t.Errorf("%q: %v", s, got)
		}
	})
}
