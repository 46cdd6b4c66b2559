//go:build !(amd64 || arm64) || purego

package nchwc

// This build has no assembly families: families stays empty and the Go
// reference kernels run. The call switches below are never reached.

func callConv(f *family, pi, r int, a *Args)      { convGo(a, f.pix[pi], r) }
func callDW(f *family, pi, r int, a *Args)        { dwGo(a, f.dwPix[pi], r) }
func callDWReuse(f *family, k, s, r int, a *Args) { dwGo(a, BlockBytes*s, r) }
func callWinoIn(f *family, a *WinoArgs)           { winoInGo(a) }
func callWinoOut(f *family, a *WinoArgs)          { winoOutGo(a) }
func callWinoGemm(f *family, r int, a *Args)      { winoGemmGo(a, r) }
func callMax(f *family, pi, r int, a *Args)       { maxGo(a, f.dwPix[pi], r) }
func callAct(f *family, k int, a *Args)           { actGo(k, a) }
func callPermute(f *family, a *Args)              {}
