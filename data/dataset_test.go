package data

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNewImagesValidation(t *testing.T) {
	pix := make([]uint8, 2*3*2*2)
	if _, err := NewImages("x", 3, 2, 2, pix, []int32{0, 5}, 5, CIFAR10Norm); !errors.Is(err, ErrLabelRange) || !strings.Contains(err.Error(), "sample 1 has label 5") {
		t.Errorf("label range: %v", err)
	}
	if _, err := NewImages("x", 3, 2, 2, pix, []int32{0, -1}, 5, CIFAR10Norm); !errors.Is(err, ErrLabelRange) {
		t.Errorf("negative label: %v", err)
	}
	if _, err := NewImages("x", 3, 2, 2, pix[:5], []int32{0, 1}, 5, CIFAR10Norm); !errors.Is(err, ErrCountMismatch) {
		t.Errorf("count: %v", err)
	}
	if _, err := NewImages("x", 3, 2, 2, nil, nil, 5, CIFAR10Norm); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	if _, err := NewImages("x", 0, 2, 2, pix, []int32{0, 1}, 5, CIFAR10Norm); err == nil {
		t.Error("zero channels accepted")
	}
	if _, err := NewImages("x", 3, 2, 2, pix, []int32{0, 1}, 5, FashionMNISTNorm); err != nil {
		t.Errorf("one mean for 3 channels: %v", err)
	}
	for _, n := range []Normalization{
		{Mean: []float32{0, 0}, Std: []float32{1}},
		{Mean: []float32{0}, Std: []float32{0}},
		{Mean: []float32{0}, Std: []float32{-1}},
		{Mean: []float32{float32(math.NaN())}, Std: []float32{1}},
		{Mean: []float32{0}, Std: []float32{float32(math.Inf(1))}},
		{},
	} {
		if _, err := NewImages("x", 3, 2, 2, pix, []int32{0, 1}, 5, n); err == nil {
			t.Errorf("normalisation %v accepted", n)
		}
	}
}

func TestNormalization(t *testing.T) {
	pix := []uint8{0, 255, 51, 102, 0, 255}
	d, err := NewImages("x", 3, 1, 2, pix, []int32{1}, 2, Normalization{Mean: []float32{0, 0.5, 1}, Std: []float32{1, 0.5, 2}})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 6)
	if l := d.Get(0, x); l != 1 {
		t.Errorf("label %d", l)
	}
	want := []float32{0, 1, (0.2 - 0.5) / 0.5, (0.4 - 0.5) / 0.5, -0.5, 0}
	for i := range want {
		if math.Abs(float64(x[i]-want[i])) > 1e-6 {
			t.Errorf("x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	black := d.Normalization().Black(3)
	if black[0] != 0 || black[1] != -1 || black[2] != -0.5 {
		t.Errorf("Black = %v", black)
	}
	if err := d.SetNormalization(ZeroOne); err != nil {
		t.Fatal(err)
	}
	d.Get(0, x)
	if x[1] != 1 || x[2] != 0.2 {
		t.Errorf("after SetNormalization: %v", x)
	}
	n := ComputeNormalization(d)
	if math.Abs(float64(n.Mean[0]-0.5)) > 1e-6 || math.Abs(float64(n.Std[0]-0.5)) > 1e-6 {
		t.Errorf("computed %v", n)
	}
	if err := d.SetClassNames([]string{"a"}); err == nil {
		t.Error("wrong number of class names accepted")
	}
}
