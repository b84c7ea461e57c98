package peers

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"wgd/config"
	"wgd/internal/lab"
)

func mustSecret(t *testing.T, s string) config.Secret {
	t.Helper()
	k, err := config.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestClientConfig(t *testing.T) {
	c := Client{
		PrivateKey:   mustSecret(t, "oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs="),
		Addresses:    prefixList("10.0.0.2/32 fd00:10::2/128"),
		DNS:          []string{"192.168.1.1", "lan"},
		MTU:          1420,
		ServerKey:    mustSecret(t, "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=").PublicKey(),
		PresharedKey: mustSecret(t, "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="),
		AllowedIPs:   FullTunnel,
		Endpoint:     "[2001:db8::1]:51820",
		Keepalive:    25,
	}
	want := `[Interface]
PrivateKey = oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs=
Address = 10.0.0.2/32, fd00:10::2/128
DNS = 192.168.1.1, lan
MTU = 1420

[Peer]
PublicKey = ` + c.ServerKey.String() + `
PresharedKey = FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = [2001:db8::1]:51820
PersistentKeepalive = 25
`
	if got := c.Config(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	c.DNS, c.MTU, c.Keepalive, c.PresharedKey = nil, 0, 0, config.Secret{}
	got := c.Config()
	for _, gone := range []string{"DNS", "MTU", "PresharedKey", "PersistentKeepalive"} {
		if strings.Contains(got, gone) {
			t.Errorf("unset %s written:\n%s", gone, got)
		}
	}
}

// randomClient is a config with fresh keys and a varying shape, so that
// the QR codes below differ in length and content.
func randomClient(t *testing.T, i int) *Client {
	priv, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	psk, _ := config.GeneratePresharedKey()
	c := &Client{
		PrivateKey: priv, ServerKey: psk.PublicKey(), PresharedKey: psk,
		Addresses:  []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.0.%d.%d/32", i%256, 2+i%250))},
		AllowedIPs: prefixList("10.0.0.0/24 192.168.1.0/24"),
		Endpoint:   fmt.Sprintf("vpn%d.example.com:%d", i, 51820+i),
		Keepalive:  25,
	}
	if i%2 == 1 {
		c.Addresses = append(c.Addresses, netip.MustParsePrefix(fmt.Sprintf("fd00:%x::%x/128", i, i+2)))
		c.AllowedIPs = FullTunnel
		c.DNS = []string{"192.168.1.1", "fd00::1"}
	}
	if i%3 == 0 {
		c.MTU = 1280 + i
		c.DNS = append(c.DNS, "home.lan")
	}
	return c
}

// The QR codes, as a picture and as drawn in a terminal, decode back to
// exactly the config text.
func TestQRDecodes(t *testing.T) {
	for i := range 24 {
		text := randomClient(t, i).Config()
		data, err := PNG(text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lab.DecodeQRPNG(data)
		if err != nil || got != text {
			t.Fatalf("config %d: PNG decodes to %q, %v; want\n%s", i, got, err, text)
		}

		var term bytes.Buffer
		if err := WriteTerminalQR(&term, text); err != nil {
			t.Fatal(err)
		}
		img, err := lab.TerminalQR(term.String(), 3)
		if err != nil {
			t.Fatal(err)
		}
		got, err = lab.DecodeQR(img)
		if err != nil || got != text {
			t.Fatalf("config %d: terminal drawing decodes to %q, %v; want\n%s", i, got, err, text)
		}
		// It fits a terminal of 80 columns.
		for _, line := range strings.Split(term.String(), "\n") {
			plain := strings.NewReplacer(ansiCode, "", ansiReset, "").Replace(line)
			if n := utf8.RuneCountInString(plain); n > 80 {
				t.Fatalf("config %d (%d bytes): terminal line of %d columns", i, len(text), n)
			}
		}
	}
}

// A decoder does not read just anything: a damaged drawing fails.
func TestQRDamaged(t *testing.T) {
	text := randomClient(t, 1).Config()
	var term bytes.Buffer
	if err := WriteTerminalQR(&term, text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.NewReplacer(ansiCode, "", ansiReset, "").Replace(term.String()), "\n")
	for i := 2; i < len(lines)-3; i++ {
		r := []rune(lines[i])
		for j := 2; j < len(r)/3; j++ {
			r[j] = '█'
		}
		lines[i] = string(r)
	}
	img, err := lab.TerminalQR(strings.Join(lines, "\n"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := lab.DecodeQR(img); err == nil && got == text {
		t.Error("a code with a blacked-out left side still decodes")
	}
}

// The SVG picture decodes back to exactly the config text: its runs,
// drawn as pixels, are the QR code.
func TestQRSVGDecodes(t *testing.T) {
	run := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	size := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`)
	for i := range 8 {
		text := randomClient(t, i).Config()
		svg, err := SVG(text)
		if err != nil {
			t.Fatal(err)
		}
		m := size.FindStringSubmatch(svg)
		if m == nil || m[1] != m[2] {
			t.Fatalf("no square viewBox in %.200s", svg)
		}
		const scale = 4
		n, _ := strconv.Atoi(m[1])
		img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
		draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
		for _, r := range run.FindAllStringSubmatch(svg, -1) {
			x, _ := strconv.Atoi(r[1])
			y, _ := strconv.Atoi(r[2])
			w, _ := strconv.Atoi(r[3])
			draw.Draw(img, image.Rect(x*scale, y*scale, (x+w)*scale, (y+1)*scale), image.Black, image.Point{}, draw.Src)
		}
		got, err := lab.DecodeQR(img)
		if err != nil || got != text {
			t.Fatalf("config %d: SVG decodes to %q, %v; want\n%s", i, got, err, text)
		}
	}
}
