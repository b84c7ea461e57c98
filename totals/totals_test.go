package totals

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wgd/config"
)

var (
	k1 = config.Key{1}
	k2 = config.Key{2}
	t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
)

func TestObserveAcrossSessions(t *testing.T) {
	s := New("")
	if _, ok := s.Total("wg0", k1); ok {
		t.Fatal("a total of a peer never seen")
	}
	s.Observe("wg0", k1, Counts{100, 50}, t0)
	s.Observe("wg0", k1, Counts{300, 80}, t0)
	// The interface was set up again unnoticed: the counters went down.
	s.Observe("wg0", k1, Counts{10, 5}, t0)
	if c, _ := s.Total("wg0", k1); c != (Counts{310, 85}) {
		t.Errorf("after a missed reset: %+v, want {310 85}", c)
	}
	// A reset the daemon knows of: the next session may already have
	// counted past the old one when it is first seen.
	s.Reset("wg0", k1)
	s.Observe("wg0", k1, Counts{1000, 1000}, t0)
	if c, _ := s.Total("wg0", k1); c != (Counts{1310, 1085}) {
		t.Errorf("after a reset: %+v, want {1310 1085}", c)
	}
	s.Observe("wg1", k1, Counts{7, 7}, t0)
	if c, _ := s.Total("wg1", k1); c != (Counts{7, 7}) {
		t.Errorf("the same key on another interface: %+v", c)
	}
	if !s.Forget("wg0", k1) || s.Len() != 1 {
		t.Errorf("forget: %d left", s.Len())
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "totals.json")
	s := New(path)
	s.Observe("wg0", k1, Counts{100, 50}, t0)
	s.Observe("wg0", k2, Counts{1 << 40, 3}, t0)
	if err := s.Save(t0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v, want mode 0600", fi, err)
	}
	if d, _ := os.Stat(filepath.Dir(path)); d.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", d.Mode())
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Total("wg0", k2); c != (Counts{1 << 40, 3}) {
		t.Errorf("loaded %+v", c)
	}
	// A new daemon's engine counts from zero again.
	r.Observe("wg0", k1, Counts{5, 5}, t0)
	if c, _ := r.Total("wg0", k1); c != (Counts{105, 55}) {
		t.Errorf("after a restart: %+v, want {105 55}", c)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "(hidden)") || !strings.Contains(string(data), k1.String()) {
		t.Errorf("file:\n%s", data)
	}
}

// The file is replaced, never written through a symlink planted there.
func TestSaveSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "totals.json")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Error("loading through a symlink succeeded")
	}
	s := New(path)
	s.Observe("wg0", k1, Counts{1, 1}, t0)
	if err := s.Save(t0); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep me" {
		t.Errorf("the symlink's target was written: %q", data)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("path after save: %v %v", fi, err)
	}
}

// At most once per SaveEvery while running, and only with news.
func TestSaveDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "totals.json")
	s := New(path)
	if ok, _ := s.SaveDue(t0); ok {
		t.Error("saved with nothing to save")
	}
	s.Observe("wg0", k1, Counts{1, 1}, t0)
	if ok, _ := s.SaveDue(t0.Add(time.Minute)); ok {
		t.Error("saved within the first hour")
	}
	if ok, err := s.SaveDue(t0.Add(SaveEvery)); !ok || err != nil {
		t.Fatalf("first save: %v %v", ok, err)
	}
	s.Observe("wg0", k1, Counts{2, 2}, t0)
	for _, at := range []time.Duration{time.Minute, 59 * time.Minute} {
		if ok, _ := s.SaveDue(t0.Add(SaveEvery + at)); ok {
			t.Errorf("saved again %v after the last save", at)
		}
	}
	if ok, err := s.SaveDue(t0.Add(2 * SaveEvery)); !ok || err != nil {
		t.Errorf("not saved %v after the last: %v", SaveEvery, err)
	}
	if ok, _ := s.SaveDue(t0.Add(4 * SaveEvery)); ok {
		t.Error("saved with nothing new")
	}
}

func TestLoadBad(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"garbage": "{not json",
		"version": `{"version": 7, "peers": []}`,
		"key":     `{"version": 1, "peers": [{"interface": "wg0", "public_key": "nope"}]}`,
		"big":     `{"version": 1, "peers": [` + strings.Repeat(" ", maxFile) + `]}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		s, err := Load(p)
		if err == nil || s == nil || s.Len() != 0 {
			t.Errorf("%s: %v, %v", name, s, err)
		}
	}
	if s, err := Load(filepath.Join(dir, "none")); err != nil || s.Len() != 0 {
		t.Errorf("missing file: %v", err)
	}
}

func TestPrune(t *testing.T) {
	s := New("")
	s.Observe("wg0", k1, Counts{1, 1}, t0)
	s.Observe("wg0", k2, Counts{1, 1}, t0)
	s.Seen("wg0", k2, t0.Add(KeepRemoved))
	s.Prune(t0.Add(KeepRemoved + time.Hour))
	if _, ok := s.Total("wg0", k1); ok {
		t.Error("a peer gone for longer than KeepRemoved was kept")
	}
	if _, ok := s.Total("wg0", k2); !ok {
		t.Error("a configured peer was dropped")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version":1,"peers":[{"interface":"wg0","public_key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","rx_bytes":1,"tx_bytes":2,"seen":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "t.json")
		os.WriteFile(p, data, 0o600)
		if s, _ := Load(p); s == nil {
			t.Fatal("nil store")
		}
	})
}
