package gemm

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time consumed so far by the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID), or -1 when it cannot be read. The benchmarks
// report the median call's GFLOP/s by it at one thread: on a machine shared
// with other busy processes, time spent descheduled does not count.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return -1
	}
	return time.Duration(ts.Nano())
}
