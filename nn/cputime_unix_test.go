//go:build unix

package nn

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of the process so far (0 where
// unavailable).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
