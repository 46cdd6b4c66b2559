package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// LockFile is the name of the lock file LockDir creates in a directory.
const LockFile = ".dshrink.lock"

// LockDir takes an exclusive lock on dir (creating dir/.dshrink.lock) so
// that two runs never write into the same output directory at once; the
// second one gets an error at once instead of waiting. The lock is released
// by the returned function or when the process ends (also by kill -9).
func LockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|nofollowFlag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another dshrink run (lock %s held): wait for it or use another output directory", dir, path)
	}
	return func() { unlockFile(f); f.Close() }, nil
}
