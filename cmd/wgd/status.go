package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"wgd/api"
)

// jsonRaw keeps the daemon's JSON as it came, indented for people.
type jsonRaw []byte

func (r *jsonRaw) UnmarshalJSON(b []byte) error {
	var buf strings.Builder
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	*r = jsonRaw(strings.TrimSuffix(buf.String(), "\n"))
	return nil
}

func printStatus(w io.Writer, s *api.Status, now time.Time) error {
	if len(s.Interfaces) == 0 {
		fmt.Fprintf(w, "no interfaces with proto 'wgd' in %s/network\n", s.ConfigDir)
	}
	for n, iface := range s.Interfaces {
		if n > 0 {
			fmt.Fprintln(w)
		}
		state := "up"
		if !iface.Up {
			state = "down"
		}
		fmt.Fprintf(w, "interface %s: %s, public key %s, listening on %d", iface.Name, state, iface.PublicKey, iface.ListenPort)
		if len(iface.Addresses) > 0 {
			fmt.Fprintf(w, ", address %s", joinPrefixes(iface.Addresses))
		}
		if iface.MTU > 0 {
			fmt.Fprintf(w, ", mtu %d", iface.MTU)
			if iface.MTUAuto {
				fmt.Fprint(w, " (auto: follows the WAN)")
			}
		}
		fmt.Fprintln(w)
		if iface.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", iface.Error)
		}
		if len(iface.Peers) == 0 {
			fmt.Fprintln(w, "  no peers")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PEER\tENDPOINT\tALLOWED IPS\tHANDSHAKE\tRECEIVED\tSENT\tTOTAL IN/OUT\tEXPIRES")
		for _, p := range iface.Peers {
			name := p.Description
			if name == "" {
				name = p.PublicKey.String()[:8] + "…"
			}
			endpoint := p.Endpoint
			if endpoint == "" {
				endpoint = "(none)"
				if p.EndpointHost != "" {
					endpoint = p.EndpointHost + " (unresolved)"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, endpoint, joinPrefixes(p.AllowedIPs),
				ago(p.LatestHandshake, now), humanBytes(p.RxBytes), humanBytes(p.TxBytes),
				humanBytes(p.TotalRxBytes)+" / "+humanBytes(p.TotalTxBytes), left(p.Expires, now))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	printFirewall(w, s)
	if h := s.Hotplug; h != nil {
		if e := h.LastWANEvent; e != nil {
			fmt.Fprintf(w, "WAN: last event %s (%s)\n", e, ago(e.Time.Unix(), now))
		}
		if r := h.LastRefresh; r != nil {
			fmt.Fprintf(w, "WAN: last refresh %s: %d kicked, %d names resolved, %d endpoints moved\n",
				ago(r.Started.Unix(), now), r.Kicked, r.Resolved, r.Changed)
		}
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "config: %s\n", p)
	}
	return nil
}

func printFirewall(w io.Writer, s *api.Status) {
	f := s.Firewall
	if f.Backend == "" {
		return
	}
	var open []string
	for _, h := range f.Holes {
		open = append(open, fmt.Sprintf("udp/%d (%s)", h.Port, h.Interface))
	}
	line := "firewall: " + f.Backend
	if len(open) > 0 {
		line += ", open " + strings.Join(open, ", ")
	}
	if f.Error != "" {
		line += ", error: " + f.Error
	}
	fmt.Fprintln(w, line)
}

func joinPrefixes[T fmt.Stringer](ps []T) string {
	if len(ps) == 0 {
		return "(none)"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// ago prints a handshake time as its age, the way people read it.
func ago(unix int64, now time.Time) string {
	if unix == 0 {
		return "never"
	}
	d := now.Sub(time.Unix(unix, 0)).Round(time.Second)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// left prints the time until an expiry (UNIX seconds, 0: none).
func left(unix int64, now time.Time) string {
	if unix == 0 {
		return "-"
	}
	d := time.Unix(unix, 0).Sub(now).Round(time.Second)
	switch {
	case d <= 0:
		return "expired"
	case d < time.Hour:
		return fmt.Sprintf("in %dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("in %dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("in %dd %dh", int(d.Hours()/24), int(d.Hours())%24)
}

// humanBytes prints a byte count in binary units.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
