package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"wgd/api"
	"wgd/hotplug"
)

// hotplugTimeout bounds `wgd hotplug`: netifd runs hotplug.d scripts one
// after the other, so a hung daemon must not hold up its next event.
const hotplugTimeout = 2 * time.Second

// cmdHotplug passes netifd's hotplug.d event (ACTION, INTERFACE, DEVICE,
// IFUPDATE_* in the environment) to the daemon. The daemon only queues
// it, so this returns at once. A daemon that is not running is not an
// error: there is nothing to refresh.
func cmdHotplug(args []string, stdout io.Writer) error {
	fs, socket := flags("hotplug")
	if err := parse(fs, args); err != nil {
		return err
	}
	ev, err := hotplug.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hotplugTimeout)
	defer cancel()
	var ans api.HotplugAnswer
	if err := api.Call(ctx, *socket, "hotplug", ev, &ans); err != nil {
		fmt.Fprintf(stdout, "wgd hotplug: %s not passed on: %v\n", ev, err)
		return nil
	}
	if !ans.Queued {
		fmt.Fprintf(stdout, "wgd hotplug: %s dropped: the daemon is busy with a burst of events\n", ev)
	}
	return nil
}
