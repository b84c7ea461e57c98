package uci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultSaveDirs are where libuci users keep changes not yet committed:
// the `uci` command's save directory, and rpcd's one per LuCI session
// (changes made in LuCI before "Save & Apply").
var DefaultSaveDirs = []string{"/tmp/.uci", "/var/run/rpcd/uci-*"}

// UncommittedError says that a package has changes waiting in a save
// directory; writing the file under them would race their commit.
type UncommittedError struct {
	Package string
	Path    string // the delta file holding the changes
}

func (e *UncommittedError) Error() string {
	return fmt.Sprintf("%s has uncommitted changes in %s (made in LuCI or with `uci set`, not yet applied); "+
		"apply or discard them first (LuCI: Save & Apply or Revert; shell: uci commit %s or uci revert %s)",
		e.Package, e.Path, e.Package, e.Package)
}

// Uncommitted looks for a non-empty delta file of package name in each of
// saveDirs (which may be glob patterns). It returns nil when there is none.
func Uncommitted(saveDirs []string, name string) error {
	for _, pattern := range saveDirs {
		dirs, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("uci: save directory pattern %q: %w", pattern, err)
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("uci: checking for uncommitted changes: %w", err)
			}
			// libuci empties the delta file on commit and revert.
			if len(bytes.TrimSpace(data)) > 0 {
				return &UncommittedError{Package: name, Path: path}
			}
		}
	}
	return nil
}

// Lock is an exclusive hold on a UCI file for one read-modify-write.
type Lock struct {
	dir, file *os.File
	path      string // of the locked file, links followed
}

// lockPoll is how often a busy lock is tried again.
const lockPoll = 20 * time.Millisecond

// LockFile takes an exclusive lock on the file at path, waiting until ctx
// ends. It locks the directory, which stays put while files are replaced
// in it, so two wgd commands never edit the same file at once; and the
// file itself, as libuci's commit does, so that a `uci commit` running at
// the same time waits as well.
func LockFile(ctx context.Context, path string) (*Lock, error) {
	path, err := resolve(path)
	if err != nil {
		return nil, err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("uci: lock: %w", err)
	}
	l := &Lock{dir: dir, path: path}
	if err := flock(ctx, dir, path); err != nil {
		l.Unlock()
		return nil, err
	}
	// The file may be replaced between opening and locking it: lock
	// until the locked file is the one at path.
	for {
		f, err := os.Open(path)
		if err != nil {
			l.Unlock()
			return nil, fmt.Errorf("uci: lock: %w", err)
		}
		if err := flock(ctx, f, path); err != nil {
			f.Close()
			l.Unlock()
			return nil, err
		}
		if same, err := sameFile(f, path); err != nil || same {
			if err != nil {
				f.Close()
				l.Unlock()
				return nil, fmt.Errorf("uci: lock: %w", err)
			}
			l.file = f
			return l, nil
		}
		f.Close()
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	// Closing the descriptors releases their flock.
	if l.file != nil {
		l.file.Close()
	}
	if l.dir != nil {
		l.dir.Close()
	}
}

func flock(ctx context.Context, f *os.File, path string) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil, errors.Is(err, syscall.ENOSYS):
			return nil
		case !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR):
			return fmt.Errorf("uci: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("uci: %s is locked by another program (gave up: %w)", path, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// resolve follows symbolic links, as libuci does before replacing a file.
func resolve(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("uci: %w", err)
	}
	return real, nil
}

// tempPrefix starts the names of WriteFileAtomic's temporary files for
// the file called base. A dot name: libuci ignores it when it lists
// packages.
func tempPrefix(base string) string { return "." + base + ".wgd-" }

// beforeRename, when set (by tests), is called with the temporary file
// once it is written, before it replaces the file.
var beforeRename func(tmp string)

// WriteFileAtomic replaces the file at path with data so that a reader,
// or the file system after a power cut, sees the old file or the new one
// and never a mix: the data goes to a temporary file in the same
// directory, is flushed to disk, and is renamed over the old file; then
// the directory is flushed. The new file keeps the old one's permissions
// and owner; a file that did not exist gets perm. The temporary file is
// created exclusively, readable by its owner only; should the writer die
// before the rename, the next writer holding the file's lock removes it
// (RemoveStaleTemps), so callers hold that lock.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode, uid, gid := perm, -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, tempPrefix(base)) // O_EXCL, mode 0600
	if err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if uid >= 0 && uid != os.Geteuid() || gid >= 0 && gid != os.Getegid() {
		// Only root may give a file away; others keep their own.
		if err := tmp.Chown(uid, gid); err != nil && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("uci: write %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if beforeRename != nil {
		beforeRename(tmp.Name())
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		// The rename itself must reach the disk.
		err = d.Sync()
		d.Close()
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("uci: write %s: flush directory: %w", path, err)
		}
	}
	return nil
}

// UpdateOptions tune Update.
type UpdateOptions struct {
	// SaveDirs are checked for uncommitted changes of the package
	// (DefaultSaveDirs on a router); none: no check.
	SaveDirs []string
	// LockWait bounds the wait for another program's lock (default 10 s).
	LockWait time.Duration
}

// Update changes dir/name in place. Holding the file's lock, it refuses
// when a save directory holds uncommitted changes of the package, parses
// the file (refusing one with errors), lets edit change it and, when the
// text changed, writes it atomically. An error from edit leaves the file
// as it was.
func Update(ctx context.Context, dir, name string, o UpdateOptions, edit func(*Doc) error) error {
	if !validPackageName(name) {
		return fmt.Errorf("uci: invalid package name %q", name)
	}
	path := filepath.Join(dir, name)
	wait := o.LockWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	lockCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lock, err := LockFile(lockCtx, path)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	removeStaleTemps(lock.path)
	if err := Uncommitted(o.SaveDirs, name); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("uci: %w", err)
	}
	doc, err := NewDoc(path, data)
	if err != nil {
		return err
	}
	doc.pkg.Name = name
	if err := edit(doc); err != nil {
		return err
	}
	if bytes.Equal(doc.data, data) {
		return nil
	}
	return WriteFileAtomic(path, doc.data, 0o600)
}

// RemoveStaleTemps removes the temporary copies of dir/name that writers
// which died before renaming them left behind (they hold the whole file,
// keys included). It takes the file's lock, waiting at most wait: a
// writer that holds it is alive and its copy is not stale. It returns the
// files removed.
func RemoveStaleTemps(ctx context.Context, dir, name string, wait time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lock, err := LockFile(ctx, filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	return removeStaleTemps(lock.path), nil
}

// removeStaleTemps removes the temporary files of the file at path (links
// followed); the caller holds its lock.
func removeStaleTemps(path string) []string {
	dir, base := filepath.Split(path)
	matches, _ := filepath.Glob(filepath.Join(dir, globEscape(tempPrefix(base))+"*"))
	var removed []string
	for _, m := range matches {
		if fi, err := os.Lstat(m); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if os.Remove(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
