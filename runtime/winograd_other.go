//go:build !amd64

package runtime

func winoIn(a *wargs) { winoInGo(a) }

func winoOut(a *wargs) { winoOutGo(a) }
