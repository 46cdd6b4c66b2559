package data

import (
	"testing"
)

// fashionAugment is the Fashion-MNIST training augmentation used by the benchmark: random
// crop with 2 pixels of black padding and horizontal flip.
func fashionAugment() []Transform {
	return []Transform{RandomCrop{Pad: 2, Fill: FashionMNISTNorm.Black(1)}, RandomHFlip{}}
}

func TestFashionMNISTLoaderEpoch(t *testing.T) {
	train, _ := loadFashion(t)
	l, err := NewLoader(train, LoaderConfig{BatchSize: 128, Shuffle: true, DropLast: true, Seed: 1, Transforms: fashionAugment()})
	if err != nil {
		t.Fatal(err)
	}
	if l.StepsPerEpoch() != 468 {
		t.Fatalf("steps %d, want 468", l.StepsPerEpoch())
	}
	it, err := l.Epoch(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	var hist [10]int
	black := FashionMNISTNorm.Black(1)[0]
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		n += b.Len()
		for _, l := range b.Labels {
			hist[l]++
		}
		for _, v := range b.X.Data {
			if v < black-1e-6 || v > (1-0.2860)/0.3530+1e-6 {
				t.Fatalf("value %v outside the normalised pixel range", v)
			}
		}
	}
	if n != 468*128 {
		t.Errorf("%d samples", n)
	}
	for c, k := range hist {
		if k < 5800 || k > 6000 {
			t.Errorf("class %d seen %d times", c, k)
		}
	}
}

// BenchmarkLoaderFashionMNIST measures loader throughput (images/s) on Fashion-MNIST,
// batch 128, random crop (pad 2) and flip, default workers.
func BenchmarkLoaderFashionMNIST(b *testing.B) {
	train, _ := loadFashion(b)
	l, err := NewLoader(train, LoaderConfig{BatchSize: 128, Shuffle: true, DropLast: true, Seed: 1, Transforms: fashionAugment()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	images := 0
	epoch := 0
	it, _ := l.Epoch(epoch, 0)
	for b.Loop() {
		bt, ok := it.Next()
		if !ok {
			epoch++
			it, _ = l.Epoch(epoch, 0)
			bt, _ = it.Next()
		}
		images += bt.Len()
	}
	it.Close()
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}
