package peers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// WritePrivate writes a file only its owner may read, for a client's
// config or its QR picture, which hold the client's private key. It
// never writes through a symbolic link, and refuses a file that is not a
// regular file of this user: in a shared directory another user could
// have put either there to read the keys or to have a file of their
// choice overwritten. A file of this user is replaced (a private copy
// renamed over it), so its old permissions do not carry over.
func WritePrivate(path string, data []byte) error {
	removeStaleTemps(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err := ownRegularFile(path); err != nil {
			return err
		}
		return replacePrivate(path, data)
	}
	if err != nil {
		return err
	}
	return writeClose(f, data)
}

// ownRegularFile refuses anything at path but a regular file of ours.
func ownRegularFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: refusing to write keys through it (remove it, or choose another file)", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: refusing to write keys to it", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to another user (uid %d): refusing to write keys to it (remove it, or choose another file)", path, st.Uid)
	}
	return nil
}

// replacePrivate writes data to a new private file beside path and
// renames it over path.
func replacePrivate(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)) // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	if err := writeClose(f, data); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func writeClose(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tempPrefix starts the names of replacePrivate's copies of base;
// os.CreateTemp ends them with decimal digits.
func tempPrefix(base string) string { return "." + base + ".wgd-" }

// staleAge is how old a copy must be before it is taken as left by a
// writer that died: a live one renames it within moments.
const staleAge = 10 * time.Minute

// removeStaleTemps removes the copies of path that a writer killed
// between creating and renaming them left behind: they hold a private
// key. Only regular files of this user named exactly as replacePrivate
// names them and older than staleAge are removed; a symbolic link is
// never followed.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		name := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < staleAge {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
			continue
		}
		os.Remove(name)
	}
}
