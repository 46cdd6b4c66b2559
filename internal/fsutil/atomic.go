// Package fsutil holds small file-system helpers shared by dshrink's packages.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes a file by streaming into a temporary file in the same
// directory, syncing it and renaming it over path, so a crash or an error never
// leaves a half-written file at path.
//
// The temporary file gets a unique name created with O_EXCL (os.CreateTemp),
// so a link planted at any name is never followed; it is removed on every
// error. The target must be absent or a regular file: an existing directory
// or special file at path is refused with a clear message before anything
// is written. The directory is synced after the rename.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if st, serr := os.Lstat(path); serr == nil {
		switch m := st.Mode(); {
		case m.IsDir():
			return fmt.Errorf("write %s: it is an existing directory; name a file", path)
		case !m.IsRegular() && m&os.ModeSymlink == 0:
			return fmt.Errorf("write %s: it exists and is not a regular file (mode %v)", path, m)
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if p := recover(); p != nil {
			f.Close()
			os.Remove(tmp)
			panic(p)
		}
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable; file systems that cannot sync a
// directory are not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
