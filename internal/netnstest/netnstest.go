// Package netnstest runs a package's tests in a private network namespace.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

const envInside = "WGD_TEST_PRIVATE_NETNS"

// Main is a TestMain: as root, it runs the test binary again under
// `unshare --net`, so TUN links, addresses, routes and sockets the tests
// make never touch the host's network and vanish with the process. Not
// as root, tests run as they are and skip what needs root (Root).
func Main(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(envInside) == "" {
		cmd := exec.Command("unshare", append([]string{"--net", "--", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), envInside+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); ok {
			os.Exit(exit.ExitCode())
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "unshare --net:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if Inside() {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "loopback up: %v: %s\n", err, out)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// Inside reports whether this process runs in the private namespace.
func Inside() bool { return os.Getenv(envInside) != "" }

// Root skips t unless it runs as root in the private namespace.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates links and sockets in a private network namespace")
	}
	if !Inside() {
		t.Skip("needs the private network namespace: call netnstest.Main from TestMain")
	}
}
