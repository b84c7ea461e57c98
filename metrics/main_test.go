package metrics

import (
	"testing"

	"wgd/internal/netnstest"
)

// Tests that need links, routes or a daemon run as root in a private network
// namespace; the rest run anywhere.
func TestMain(m *testing.M) { netnstest.Main(m) }
