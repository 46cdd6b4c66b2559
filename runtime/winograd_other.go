//go:build !amd64

package runtime

func winoIn(a *wargs) { winoInGo(a) }

func winoOut(a *wargs) { winoOutGo(a) }

func callWinoGemm(r int, a *kargs) { winoGemmGo(a, r) }
