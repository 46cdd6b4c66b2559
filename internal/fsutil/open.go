package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxReadBytes is the largest file ReadFile reads into memory (4 GiB); larger
// files are refused before anything is allocated.
const MaxReadBytes int64 = 4 << 30

// checkRegular returns a clear error unless st describes a regular file.
func checkRegular(path string, st fs.FileInfo) error {
	switch m := st.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%s is a directory, not a file", path)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s is a named pipe (FIFO), not a regular file", path)
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		return fmt.Errorf("%s is a device, not a regular file", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s is a socket, not a regular file", path)
	default:
		return fmt.Errorf("%s is not a regular file (mode %v)", path, m)
	}
}

// OpenRegular opens path for reading only when it is a regular file (after
// following symbolic links). It checks the mode before opening, opens without
// blocking (a FIFO swapped in between never blocks the open), and checks again
// on the open file that it is the same regular file.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(path, st); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonblockFlag, 0)
	if err != nil {
		return nil, nil, err
	}
	fst, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := checkRegular(path, fst); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !os.SameFile(st, fst) {
		f.Close()
		return nil, nil, fmt.Errorf("%s changed while it was being opened", path)
	}
	if err := clearNonblock(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, fst, nil
}

// ReadFile reads a whole regular file (see OpenRegular), refusing files
// larger than limit bytes (MaxReadBytes when limit <= 0) before allocating.
func ReadFile(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxReadBytes
	}
	f, st, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, fmt.Errorf("%s has %d bytes, more than the limit of %d", path, st.Size(), limit)
	}
	// Read at most limit+1 bytes: a file that grows while it is read is caught.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past the limit of %d bytes while it was read", path, limit)
	}
	return data, nil
}

// ErrOutsideDir reports a path that resolves outside the directory it must stay in.
var ErrOutsideDir = errors.New("resolves outside the directory")

// ResolveInside resolves name, a relative path, against dir with every
// symbolic link evaluated, and returns the resolved path only when it lies
// inside dir (itself resolved) and names a regular file.
func ResolveInside(dir, name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || filepath.VolumeName(clean) != "" {
		return "", fmt.Errorf("%q must be a relative path inside %s: %w", name, dir, ErrOutsideDir)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(root, clean))
	if err != nil {
		return "", err
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%q resolves to %s, outside %s: %w", name, resolved, root, ErrOutsideDir)
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return "", err
	}
	if err := checkRegular(name, st); err != nil {
		return "", err
	}
	return resolved, nil
}

// OpenInside opens name, relative to dir, for reading after ResolveInside
// accepted it, and checks that the file opened is the one resolved: a path
// swapped for a link or a FIFO after the check is refused, never followed.
func OpenInside(dir, name string) (*os.File, fs.FileInfo, error) {
	resolved, err := ResolveInside(dir, name)
	if err != nil {
		return nil, nil, err
	}
	want, err := os.Lstat(resolved)
	if err != nil {
		return nil, nil, err
	}
	f, st, err := OpenRegular(resolved)
	if err != nil {
		return nil, nil, err
	}
	if !os.SameFile(want, st) {
		f.Close()
		return nil, nil, fmt.Errorf("%q changed while it was being opened", name)
	}
	return f, st, nil
}
