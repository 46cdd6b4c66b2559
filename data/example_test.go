package data_test

import (
	"fmt"

	"github.com/dshrink/dshrink/data"
)

// A training loop over a data set: a seeded shuffling loader with augmentation, resumable
// at any step of any epoch.
func ExampleLoader() {
	pixels := make([]uint8, 10*1*4*4)
	labels := []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	ds, err := data.NewImages("toy", 1, 4, 4, pixels, labels, 3, data.ZeroOne)
	if err != nil {
		panic(err)
	}
	train, val, _ := data.Split(ds, 2, 1)
	l, err := data.NewLoader(train, data.LoaderConfig{
		BatchSize:  3,
		Shuffle:    true,
		Seed:       7,
		Transforms: []data.Transform{data.RandomCrop{Pad: 1}, data.RandomHFlip{}},
	})
	if err != nil {
		panic(err)
	}
	for epoch := 0; epoch < 2; epoch++ {
		it, _ := l.Epoch(epoch, 0) // a resumed run passes the step it stopped at
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			// b.X is [N,1,4,4]; b and its buffers are valid until the next call to Next.
			fmt.Println(epoch, b.Step, b.X.Shape)
		}
		it.Close()
	}
	fmt.Println(train.Len(), val.Len())
	// Output:
	// 0 0 [3 1 4 4]
	// 0 1 [3 1 4 4]
	// 0 2 [2 1 4 4]
	// 1 0 [3 1 4 4]
	// 1 1 [3 1 4 4]
	// 1 2 [2 1 4 4]
	// 8 2
}
