//go:build !unix

package fsutil

import "os"

const nonblockFlag = 0

func clearNonblock(*os.File) error { return nil }

const nofollowFlag = 0

func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
