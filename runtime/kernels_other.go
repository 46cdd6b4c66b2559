//go:build !amd64

package runtime

var useAsm = false

// KernelISA names the instruction set of the micro-kernels in use.
func KernelISA() string { return "go" }

func callConv(pi, r int, a *kargs) { convGo(a, pixStrides[pi], r) }

func callDW(pi, r int, a *kargs) { dwGo(a, dwPixStrides[pi], r) }

func callDWReuse(k, s, r int, a *kargs) { dwGo(a, 64*s, r) }
