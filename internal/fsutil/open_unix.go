//go:build unix

package fsutil

import (
	"os"
	"syscall"
)

const nonblockFlag = syscall.O_NONBLOCK

// clearNonblock puts a file opened with O_NONBLOCK back into blocking mode
// (it is a regular file by then, where the flag changes nothing, but reads
// should not depend on that).
func clearNonblock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}

const nofollowFlag = syscall.O_NOFOLLOW

func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
