//go:build amd64 && !purego

package nchwc

import "github.com/dshrink/dshrink/kernels/isa"

//go:generate go run gen_avx512_direct.go
//go:generate go run gen_avx512_wino.go
//go:generate go run gen_avx2.go
//go:generate gofmt -w avx2_amd64.go

func init() {
	if isa.Has(isa.AVX512) {
		families = append(families, &family{level: isa.AVX512, name: "avx512",
			pix: []int{16, 32, 64, 128}, dwPix: []int{64, 128},
			convMaxR: MaxR, dwMaxR: MaxR, winoMaxR: WinoMaxR,
			reuseMaxR: func(int) int { return MaxR }})
	}
	if isa.Has(isa.AVX2) {
		families = append(families, &family{level: isa.AVX2, name: "avx2",
			pix: []int{16, 32, 64, 128}, dwPix: []int{64, 128},
			convMaxR: convMaxRAVX2, dwMaxR: dwMaxRAVX2, winoMaxR: winoMaxRAVX2,
			reuseMaxR: reuseMaxRAVX2})
	}
}

func callConv(f *family, pi, r int, a *Args) {
	if f.level == isa.AVX512 {
		convAVX512(pi, r, a)
	} else {
		convAVX2(pi, r, a)
	}
}

func callDW(f *family, pi, r int, a *Args) {
	if f.level == isa.AVX512 {
		dwAVX512(pi, r, a)
	} else {
		dwAVX2(pi, r, a)
	}
}

func callDWReuse(f *family, k, s, r int, a *Args) {
	if f.level == isa.AVX512 {
		dwReuseAVX512(k, s, r, a)
	} else {
		dwReuseAVX2(k, s, r, a)
	}
}

func callWinoIn(f *family, a *WinoArgs) {
	if f.level == isa.AVX512 {
		winoInAVX512(a)
	} else {
		winoInAVX2(a)
	}
}

func callWinoOut(f *family, a *WinoArgs) {
	if f.level == isa.AVX512 {
		winoOutAVX512(a)
	} else {
		winoOutAVX2(a)
	}
}

func callWinoGemm(f *family, r int, a *Args) {
	if f.level == isa.AVX512 {
		winoGemmAVX512(r, a)
	} else {
		winoGemmAVX2(r, a)
	}
}
