//go:build (!amd64 && !arm64) || purego

package gemm

// cpuKernels returns no assembly kernels on this platform.
func cpuKernels() []*kernelImpl { return nil }
