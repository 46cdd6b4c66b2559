//go:build amd64 && !purego

package nchwc

import "testing"

// TestTiles pins the register tiles of the amd64 families, so that a
// change to the generator's register budget that shrinks them shows up
// here: AVX-512 14-pixel dense and depthwise tiles and a 16-tile Winograd
// product; AVX2 6-pixel dense, 7-pixel depthwise, (14-k)-pixel row-reuse and
// 6-tile product tiles.
func TestTiles(t *testing.T) {
	for _, c := range []struct {
		f                          *family
		conv, dw, wino, reuse3, r5 int
	}{
		{familyAVX512, 14, 14, 16, 14, 14},
		{familyAVX2, 6, 7, 6, 11, 9},
	} {
		f := c.f
		got := [5]int{f.convMaxR, f.dwMaxR, f.winoMaxR, f.reuseMaxR(3), f.reuseMaxR(5)}
		if want := [5]int{c.conv, c.dw, c.wino, c.reuse3, c.r5}; got != want {
			t.Errorf("%s: tiles (conv, dw, wino, reuse 3x3, 5x5) = %v, want %v", f.name, got, want)
		}
	}
}
