//go:build !amd64 || purego

package conv

// useAVX512 is always false without the amd64 assembly.
var useAVX512 = false

func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	return false
}

func dotTaps(d, src []float32, offs []int, acc []float32)    { dotTapsGo(d, src, offs, acc) }
func gatherTaps(out, src []float32, offs []int, w []float32) { gatherTapsGo(out, src, offs, w) }
