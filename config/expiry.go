package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dateOnly is how an expiry may also be written: the start of that day, UTC.
const dateOnly = "2006-01-02"

// ParseExpiry reads an `option expires`: an RFC 3339 time, or a date
// (YYYY-MM-DD, the start of that day in UTC).
func ParseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(dateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 such as 2026-12-31T18:00:00Z, or a date such as 2026-12-31", s)
}

// ParseExpiryFrom reads when a peer should expire as a person says it: a
// duration from now (30m, 48h, 7d, 1d12h) or a time ParseExpiry takes.
// The result lies after now, in UTC, to the second.
func ParseExpiryFrom(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := ParseExpiry(s)
	if err != nil {
		d, derr := parseDays(s)
		if derr != nil {
			return time.Time{}, fmt.Errorf("%q: want a duration such as 30m, 48h or 7d, an RFC 3339 time or a date YYYY-MM-DD", s)
		}
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: the duration must be positive", s)
		}
		t = now.Add(d)
	}
	t = t.UTC().Truncate(time.Second)
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future", t.Format(time.RFC3339))
	}
	return t, nil
}

// parseDays is time.ParseDuration with days ("7d", "1d12h") as well.
func parseDays(s string) (time.Duration, error) {
	days, rest, found := strings.Cut(s, "d")
	if !found {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 16)
	if err != nil {
		return 0, errors.New("bad number of days")
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		d += more
	}
	return d, nil
}

// Expired tells whether the peer's time ran out at now.
func (p *Peer) Expired(now time.Time) bool {
	return !p.Expires.IsZero() && !now.Before(p.Expires)
}

// Expired are the interface's peers whose time ran out at now, in order.
func (i *Interface) Expired(now time.Time) []Key {
	var out []Key
	for _, p := range i.Peers {
		if p.Expired(now) {
			out = append(out, p.PublicKey)
		}
	}
	return out
}

// Without is the interface without the peers of keys; i keeps them.
func (i Interface) Without(keys []Key) Interface {
	if len(keys) == 0 {
		return i
	}
	i.Peers = slices.DeleteFunc(slices.Clone(i.Peers), func(p Peer) bool { return slices.Contains(keys, p.PublicKey) })
	return i
}

// NextExpiry is the earliest expiry after now among the peers of c; zero
// when none is coming.
func (c *Config) NextExpiry(now time.Time) time.Time {
	var next time.Time
	for _, i := range c.Interfaces {
		for _, p := range i.Peers {
			if p.Expires.After(now) && (next.IsZero() || p.Expires.Before(next)) {
				next = p.Expires
			}
		}
	}
	return next
}
