package nchwc

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// PermSrc says where one lane of an output block comes from: lane Lane of
// source block Src (an index into the sources of Perm.Apply), or nowhere
// (Src < 0: the lane is zero).
type PermSrc struct{ Src, Lane int }

// MaxPermSrcs is the largest number of source blocks of a Perm.
const MaxPermSrcs = Block

// Perm is a lane permutation of blocks: each lane of an output block taken
// from a lane of one of several source blocks (a channel gather in the
// NCHWc layout). NewPerm prepares it; Apply runs it over pixels.
type Perm struct {
	lanes [Block]PermSrc
	tabs  []permTab // one per vector width of this build's families
}

// permTab is a Perm for one vector width: the terms (output vector, source
// vector) that the permute kernel ORs together, as the kernel's table.
type permTab struct {
	lanes int
	src   []int // per term: source index
	off   []int // per term: byte offset of the source vector in its block
	table []byte
}

// NewPerm prepares the permutation of lanes, whose sources must be in
// [0, MaxPermSrcs) (or negative).
func NewPerm(lanes [Block]PermSrc) *Perm {
	p := &Perm{lanes: lanes}
	seen := map[int]bool{}
	for _, f := range families {
		if f.hasPoolAct && !seen[f.lanes] {
			seen[f.lanes] = true
			p.tabs = append(p.tabs, p.table(f.lanes, f.name == "neon"))
		}
	}
	return p
}

// table builds the terms for vectors of l lanes: one per output vector and
// source vector it reads, each with its index vector and lane mask (tbl:
// TBL byte indices instead, 0xFF for the lanes it does not set).
func (p *Perm) table(l int, tbl bool) permTab {
	t := permTab{lanes: l}
	entry := 8 + 2*4*l
	for q := 0; q < Block/l; q++ {
		type key struct{ src, vec int }
		var order []key
		terms := map[key][]int{} // output lane -> source lane (or -1)
		for j := 0; j < l; j++ {
			ps := p.lanes[q*l+j]
			if ps.Src < 0 {
				continue
			}
			k := key{ps.Src, ps.Lane / l}
			if terms[k] == nil {
				terms[k] = make([]int, l)
				for i := range terms[k] {
					terms[k][i] = -1
				}
				order = append(order, k)
			}
			terms[k][j] = ps.Lane % l
		}
		for _, k := range order {
			e := make([]byte, entry)
			binary.LittleEndian.PutUint64(e, uint64(q*l*4))
			for j, sl := range terms[k] {
				idx, mask := uint32(0), uint32(0)
				if sl >= 0 {
					idx, mask = uint32(sl), math.MaxUint32
				}
				if tbl {
					idx = 0xFFFFFFFF
					if sl >= 0 {
						b := uint32(4 * sl)
						idx = b | (b+1)<<8 | (b+2)<<16 | (b+3)<<24
					}
				}
				binary.LittleEndian.PutUint32(e[8+4*j:], idx)
				binary.LittleEndian.PutUint32(e[8+4*l+4*j:], mask)
			}
			t.src = append(t.src, k.src)
			t.off = append(t.off, k.vec*l*4)
			t.table = append(t.table, e...)
		}
	}
	return t
}

// Apply writes n pixels of one output block at out: lane l of pixel x is
// lane p.lanes[l].Lane of pixel x of source block srcs[p.lanes[l].Src], or
// zero. Pixels are BlockBytes apart in the output and in every source.
func (p *Perm) Apply(out unsafe.Pointer, srcs *[MaxPermSrcs]unsafe.Pointer, n int) {
	if n <= 0 {
		return
	}
	f := active()
	if f != generic && f.hasPoolAct {
		for i := range p.tabs {
			t := &p.tabs[i]
			if t.lanes != f.lanes {
				continue
			}
			var ptrs [Block]unsafe.Pointer // at most one term per output lane
			for j, s := range t.src {
				ptrs[j] = unsafe.Add(srcs[s], t.off[j])
			}
			if len(t.src) == 0 {
				break // every lane is zero
			}
			var a Args
			a.In, a.Out, a.W = unsafe.Pointer(&ptrs[0]), out, unsafe.Pointer(&t.table[0])
			a.KW, a.CB = n, len(t.src)
			callPermute(f, &a)
			return
		}
	}
	permuteGo(p, out, srcs, n)
}

// permuteGo is the portable permutation.
func permuteGo(p *Perm, out unsafe.Pointer, srcs *[MaxPermSrcs]unsafe.Pointer, n int) {
	for x := 0; x < n; x++ {
		o := (*[Block]float32)(unsafe.Add(out, x*BlockBytes))
		for l, ps := range p.lanes {
			if ps.Src < 0 {
				o[l] = 0
				continue
			}
			o[l] = (*[Block]float32)(unsafe.Add(srcs[ps.Src], x*BlockBytes))[ps.Lane]
		}
	}
}
