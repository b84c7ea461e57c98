// Package totals keeps each peer's traffic across the engine's session
// counters, which start again at zero whenever an interface or a peer is
// set up again (a daemon restart, a reboot, an expiry lifted). Totals
// live in RAM and go to a small file rarely, for the sake of the
// router's flash: the daemon saves at most once an hour and when it
// stops.
package totals

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"wgd/config"
)

// DefaultPath is where the totals are kept unless `option totals_file`
// says otherwise.
const DefaultPath = "/etc/wgd/totals.json"

// SaveEvery is how often at most the totals are written while running.
const SaveEvery = time.Hour

// KeepRemoved is how long the totals of a peer no longer configured are
// kept (it may come back: a typo fixed, a section restored).
const KeepRemoved = 30 * 24 * time.Hour

// maxFile and maxPeers bound what a file may make the daemon hold.
const (
	maxFile  = 4 << 20
	maxPeers = 1 << 16
)

// Counts are bytes received from and sent to a peer.
type Counts struct {
	Rx, Tx uint64
}

type id struct {
	iface string
	key   config.Key
}

type entry struct {
	base Counts    // what came before the current session counters
	last Counts    // the session counters seen last
	seen time.Time // when the peer was last configured
}

// Store holds the totals of every peer; not safe for concurrent use (the
// daemon's goroutine owns it).
type Store struct {
	Path     string // "": kept in RAM only
	peers    map[id]*entry
	dirty    bool
	lastSave time.Time
}

// New is an empty store saving to path.
func New(path string) *Store { return &Store{Path: path, peers: map[id]*entry{}} }

// Observe records the engine's session counters of a peer. Counters
// lower than before mean a new session: what the old one counted is kept.
func (s *Store) Observe(iface string, k config.Key, c Counts, now time.Time) {
	e := s.entry(iface, k)
	e.seen = now
	if c == e.last {
		return
	}
	if c.Rx < e.last.Rx || c.Tx < e.last.Tx {
		e.base = add(e.base, e.last)
	}
	e.last = c
	s.dirty = true
}

// Reset says that a peer's session counters are gone (its interface
// closed, the peer taken off the engine): the next start from zero.
func (s *Store) Reset(iface string, k config.Key) {
	e, ok := s.peers[id{iface, k}]
	if !ok || e.last == (Counts{}) {
		return
	}
	e.base, e.last = add(e.base, e.last), Counts{}
	s.dirty = true
}

// Seen marks a peer as configured at now, so that Prune keeps it.
func (s *Store) Seen(iface string, k config.Key, now time.Time) {
	if e, ok := s.peers[id{iface, k}]; ok {
		e.seen = now
	}
}

// Total is a peer's traffic over all its sessions; false when nothing is
// known of it.
func (s *Store) Total(iface string, k config.Key) (Counts, bool) {
	e, ok := s.peers[id{iface, k}]
	if !ok {
		return Counts{}, false
	}
	return add(e.base, e.last), true
}

// Forget drops a peer's totals (the peer was removed).
func (s *Store) Forget(iface string, k config.Key) bool {
	if _, ok := s.peers[id{iface, k}]; !ok {
		return false
	}
	delete(s.peers, id{iface, k})
	s.dirty = true
	return true
}

// Prune drops the totals of peers not seen for KeepRemoved.
func (s *Store) Prune(now time.Time) {
	for k, e := range s.peers {
		if now.Sub(e.seen) > KeepRemoved {
			delete(s.peers, k)
			s.dirty = true
		}
	}
}

// Len is the number of peers with totals.
func (s *Store) Len() int { return len(s.peers) }

func (s *Store) entry(iface string, k config.Key) *entry {
	e, ok := s.peers[id{iface, k}]
	if !ok {
		e = &entry{}
		if len(s.peers) < maxPeers {
			s.peers[id{iface, k}] = e
		}
	}
	return e
}

func add(a, b Counts) Counts { return Counts{a.Rx + b.Rx, a.Tx + b.Tx} }

// file is the format on disk.
type file struct {
	Version int        `json:"version"`
	Saved   time.Time  `json:"saved"`
	Peers   []filePeer `json:"peers"`
}

type filePeer struct {
	Interface string     `json:"interface"`
	PublicKey config.Key `json:"public_key"`
	RxBytes   uint64     `json:"rx_bytes"`
	TxBytes   uint64     `json:"tx_bytes"`
	Seen      int64      `json:"seen"` // UNIX seconds
}

// Load reads the totals saved at path into a new store. A missing file
// is an empty store; a damaged one is an error, with the store empty.
func Load(path string) (*Store, error) {
	s := New(path)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("traffic totals: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return s, fmt.Errorf("traffic totals: %w", err)
	}
	if len(data) > maxFile {
		return s, fmt.Errorf("traffic totals: %s is larger than %d bytes: ignored", path, maxFile)
	}
	var in file
	if err := json.Unmarshal(data, &in); err != nil {
		return s, fmt.Errorf("traffic totals: %s: %w", path, err)
	}
	if in.Version != 1 {
		return s, fmt.Errorf("traffic totals: %s: version %d unknown", path, in.Version)
	}
	for _, p := range in.Peers {
		if len(s.peers) >= maxPeers {
			break
		}
		s.peers[id{p.Interface, p.PublicKey}] = &entry{base: Counts{p.RxBytes, p.TxBytes}, seen: time.Unix(p.Seen, 0)}
	}
	return s, nil
}

// SaveDue saves when there is something new and the last save (or the
// first call, at the start) is SaveEvery ago; it reports whether it
// wrote. A daemon restarted again and again thus writes only as it stops.
func (s *Store) SaveDue(now time.Time) (bool, error) {
	if s.lastSave.IsZero() {
		s.lastSave = now
	}
	if !s.dirty || s.Path == "" || now.Sub(s.lastSave) < SaveEvery {
		return false, nil
	}
	return true, s.Save(now)
}

// Save writes the totals now (when the daemon stops), if anything
// changed since the last save.
func (s *Store) Save(now time.Time) error {
	if !s.dirty || s.Path == "" {
		return nil
	}
	s.Prune(now)
	out := file{Version: 1, Saved: now.UTC().Truncate(time.Second), Peers: []filePeer{}}
	for k, e := range s.peers {
		t := add(e.base, e.last)
		out.Peers = append(out.Peers, filePeer{Interface: k.iface, PublicKey: k.key, RxBytes: t.Rx, TxBytes: t.Tx, Seen: e.seen.Unix()})
	}
	sort.Slice(out.Peers, func(i, j int) bool {
		a, b := out.Peers[i], out.Peers[j]
		return a.Interface < b.Interface || a.Interface == b.Interface && a.PublicKey.String() < b.PublicKey.String()
	})
	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	if err := writeFile(s.Path, append(data, '\n')); err != nil {
		return fmt.Errorf("traffic totals: %w", err)
	}
	s.dirty, s.lastSave = false, now
	return nil
}

// writeFile replaces path with data: written to a new file of the same
// directory (created exclusively, readable by root only, never through a
// symlink), synced, then renamed over path, so a power cut leaves the
// old file or the new one.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}
