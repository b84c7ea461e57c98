package peers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WritePrivate writes a file only its owner may read, for a client's
// config or its QR picture, which hold the client's private key. It
// never writes through a symbolic link, and refuses a file that is not a
// regular file of this user: in a shared directory another user could
// have put either there to read the keys or to have a file of their
// choice overwritten. A file of this user is replaced (a private copy
// renamed over it), so its old permissions do not carry over.
func WritePrivate(path string, data []byte) error {
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
	f, err := os.CreateTemp(dir, "."+base+".wgd-") // O_EXCL, mode 0600
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
