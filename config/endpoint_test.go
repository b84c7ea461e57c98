package config

import "testing"

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port uint16
	}{
		"vpn.example.com":      {"vpn.example.com", 0},
		"vpn.example.com.":     {"vpn.example.com", 0},
		"vpn.example.com:443":  {"vpn.example.com", 443},
		"192.0.2.1":            {"192.0.2.1", 0},
		"192.0.2.1:51820":      {"192.0.2.1", 51820},
		"2001:db8::1":          {"2001:db8::1", 0},
		"[2001:db8::1]":        {"2001:db8::1", 0},
		"[2001:db8::1]:51821":  {"2001:db8::1", 51821},
		"2001:DB8:0:0:0:0:0:1": {"2001:db8::1", 0},
	} {
		host, port, err := ParseEndpoint(in)
		if err != nil || host != want.host || port != want.port {
			t.Errorf("%q: %q %d %v, want %q %d", in, host, port, err, want.host, want.port)
		}
	}
	for _, in := range []string{"", "bad host", "host:0", "host:65536", "host:x", "[192.0.2.1]:1",
		"[2001:db8::1", "[2001:db8::1]x", "fe80::1%eth0", "-bad.example", "a..b", "http://x"} {
		if h, p, err := ParseEndpoint(in); err == nil {
			t.Errorf("%q accepted as %q %d", in, h, p)
		}
	}
}

func TestDaemonPublicEndpoint(t *testing.T) {
	cfg, problems := Load(write(t, map[string]string{"network": "", "wgd": "config wgd 'main'\n\toption public_endpoint 'vpn.example.com:51821'\n"}))
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	if got := cfg.Daemon.PublicEndpoint; got != "vpn.example.com:51821" {
		t.Errorf("public_endpoint = %q", got)
	}
	cfg, problems = Load(write(t, map[string]string{"network": "", "wgd": "config wgd 'main'\n\toption public_endpoint 'not a host'\n"}))
	if len(problems) != 1 || problems[0].Option != "public_endpoint" || problems[0].Line != 2 || problems[0].Warning {
		t.Errorf("problems %v", problems)
	}
	if cfg.Daemon.PublicEndpoint != "" {
		t.Errorf("bad value kept: %q", cfg.Daemon.PublicEndpoint)
	}
	cfg, _ = Load(write(t, map[string]string{"network": ""}))
	if cfg.Daemon.PublicEndpoint != "" {
		t.Errorf("default %q, want empty (detect)", cfg.Daemon.PublicEndpoint)
	}
}
