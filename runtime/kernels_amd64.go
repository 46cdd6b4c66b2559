//go:build amd64

package runtime

import "golang.org/x/sys/cpu"

// useAsm reports whether the AVX-512 micro-kernels run (else the portable Go
// kernels do).
var useAsm = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && !forceGo

// KernelISA names the instruction set of the micro-kernels in use.
func KernelISA() string {
	if useAsm {
		return "avx512"
	}
	return "go"
}
