package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"wgd/doctor"
)

var errProblems = errors.New("problems found")

// cmdDoctor checks the router and prints what keeps devices out.
func cmdDoctor(args []string, stdout io.Writer) error {
	fs, socket := flags("doctor")
	configDir := fs.String("config-dir", "/etc/config", "directory of the UCI files network and wgd")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: wgd doctor [IFACE]", errUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := doctor.Gather(ctx, doctor.Options{ConfigDir: *configDir, Socket: *socket})
	r := doctor.NewReport(doctor.Check(f, fs.Arg(0)))
	var err error
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err == nil && r.Failures > 0 {
		err = errProblems
	}
	return err
}
