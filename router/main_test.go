package router

import (
	"testing"

	"wgd/internal/netnstest"
)

func TestMain(m *testing.M) { netnstest.Main(m) }
