//go:build !amd64 || purego

package conv

// useAVX512 is always false without the amd64 assembly.
var useAVX512 = false

func dwInteriorAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, y0, y1, x0, x1 int) bool {
	return false
}
