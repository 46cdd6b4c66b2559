//go:build !unix

package fsutil

import "os"

const nonblockFlag = 0

func clearNonblock(*os.File) error { return nil }
