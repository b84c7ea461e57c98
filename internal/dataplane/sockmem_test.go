package dataplane

import "testing"

func TestParseSockMem(t *testing.T) {
	out := `State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
UNCONN 0      0            0.0.0.0:51820      0.0.0.0:*     users:(("wgd",pid=42,fd=9))
	 skmem:(r4608,rb1048576,t0,tb1048576,f4096,w0,o0,bl0,d7)
UNCONN 0      0               [::]:51820         [::]:*     users:(("wgd",pid=42,fd=10))
	 skmem:(r0,rb1048576,t0,tb1048576,f0,w0,o0,bl0,d0)
UNCONN 0      0          127.0.0.1:53         0.0.0.0:*     users:(("dnsmasq",pid=420,fd=4))
	 skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d3)
`
	m, err := parseSockMem(out, 42)
	if err != nil {
		t.Fatal(err)
	}
	if want := (SockMem{Sockets: 2, Used: 8704, Limit: 4 << 20, Drops: 7}); m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := parseSockMem(out, 4); err == nil {
		t.Error("a pid without sockets gave no error")
	}
}
