//go:build !linux

package gemm

import "time"

// threadCPU is not available here; -1 disables the thread-CPU metric.
func threadCPU() time.Duration { return -1 }
