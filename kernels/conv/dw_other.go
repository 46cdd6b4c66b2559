//go:build !amd64 || purego

package conv

// useAVX512 is always false without the amd64 assembly.
var useAVX512 = false

func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	return false
}
