//go:build amd64

package runtime

// winoIn is the AVX-512 input transform (see winoInGo).
//
//go:noescape
func winoIn(a *wargs)

// winoOut is the AVX-512 output transform (see winoOutGo).
//
//go:noescape
func winoOut(a *wargs)
