package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Subset is a view of some samples of a parent Dataset, in the order of its indices. It
// implements Dataset.
type Subset struct {
	parent  Dataset
	indices []int
}

// NewSubset returns the samples indices (copied; each in [0, parent.Len())) of parent.
func NewSubset(parent Dataset, indices []int) (*Subset, error) {
	n := parent.Len()
	for k, i := range indices {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("data: subset index %d (position %d) out of range [0, %d)", i, k, n)
		}
	}
	return &Subset{parent: parent, indices: slices.Clone(indices)}, nil
}

// Len returns the number of samples in the subset.
func (s *Subset) Len() int { return len(s.indices) }

// Shape returns the parent's image shape.
func (s *Subset) Shape() (c, h, w int) { return s.parent.Shape() }

// NumClasses returns the parent's number of classes.
func (s *Subset) NumClasses() int { return s.parent.NumClasses() }

// Get writes sample i of the subset (sample Indices()[i] of the parent) into dst.
func (s *Subset) Get(i int, dst []float32) int { return s.parent.Get(s.indices[i], dst) }

// Indices returns the parent indices of the subset's samples. The slice is shared; do not
// modify it.
func (s *Subset) Indices() []int { return s.indices }

// Parent returns the data set the subset views.
func (s *Subset) Parent() Dataset { return s.parent }

// Split divides ds into a training and a validation subset, deterministically for a seed:
// it draws a seeded permutation of all indices and holds out its last nVal entries as the
// validation set. Both subsets list their indices in increasing order. nVal must be in
// [0, ds.Len()].
func Split(ds Dataset, nVal int, seed uint64) (train, val *Subset, err error) {
	n := ds.Len()
	if nVal < 0 || nVal > n {
		return nil, nil, fmt.Errorf("data: split: %d validation samples requested from %d", nVal, n)
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := rand.New(rand.NewPCG(mix64(seed), mix64(streamSplit)))
	rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	tr, va := perm[:n-nVal], perm[n-nVal:]
	slices.Sort(tr)
	slices.Sort(va)
	return &Subset{parent: ds, indices: tr}, &Subset{parent: ds, indices: va}, nil
}

// Stream identifiers keep the generators of shuffling, augmentation and splitting apart.
const (
	streamShuffle = 0x53485546464c45 // "SHUFFLE"
	streamAugment = 0x4155474d454e54 // "AUGMENT"
	streamSplit   = 0x53504c4954     // "SPLIT"
)

// mix64 is the SplitMix64 finaliser, a bijective 64-bit hash.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// shuffleSeeds returns the PCG seeds of the epoch's shuffle.
func shuffleSeeds(seed uint64, epoch int) (uint64, uint64) {
	return mix64(seed ^ streamShuffle), mix64(uint64(epoch) ^ mix64(streamShuffle))
}

// augmentSeeds returns the PCG seeds of the augmentation of sample index in epoch.
func augmentSeeds(seed uint64, epoch, index int) (uint64, uint64) {
	return mix64(seed ^ streamAugment), mix64(mix64(uint64(epoch)^streamAugment) + uint64(index))
}

// EpochOrder returns the order in which a shuffling Loader with this seed visits the n
// samples in epoch: a permutation that depends only on (seed, epoch, n). dst is reused
// when it has capacity n.
func EpochOrder(dst []int, n int, seed uint64, epoch int) []int {
	if cap(dst) < n {
		dst = make([]int, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = i
	}
	s1, s2 := shuffleSeeds(seed, epoch)
	rng := rand.New(rand.NewPCG(s1, s2))
	rng.Shuffle(n, func(i, j int) { dst[i], dst[j] = dst[j], dst[i] })
	return dst
}
