package train

import (
	"slices"
	"testing"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
)

// TestRecordData checks that a model records its data set's preprocessing and
// class names, and that what does not fit is left out rather than failing.
func TestRecordData(t *testing.T) {
	imgs, err := data.NewImages("toy", 1, 28, 28, make([]uint8, 2*28*28), []int32{0, 1}, 10, data.FashionMNISTNorm)
	if err != nil {
		t.Fatal(err)
	}
	d := &Datasets{Train: imgs, Eval: imgs, Norm: imgs.Normalization()}
	g := graph.New("m", 1, 28, 28)
	g.Classes = 10
	RecordData(g, DataConfig{Dataset: "fashion-mnist"}, d)
	p, ok, err := g.Preprocessing()
	if err != nil || !ok || p.Size != 28 || !p.Gray || p.Mean[0] != 0.2860 || p.Std[0] != 0.3530 {
		t.Errorf("preprocessing %+v ok %v err %v", p, ok, err)
	}
	if names, _ := g.ClassNames(); !slices.Equal(names, data.FashionMNISTClasses) {
		t.Errorf("class names %v", names)
	}

	named := graph.New("m", 1, 28, 28) // names of its own stay
	named.Classes = 10
	own := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if err := named.SetClassNames(own); err != nil {
		t.Fatal(err)
	}
	RecordData(named, DataConfig{Dataset: "fashion-mnist"}, d)
	if names, _ := named.ClassNames(); !slices.Equal(names, own) {
		t.Errorf("the model's own class names replaced by %v", names)
	}

	other := graph.New("m", 3, 28, 28) // does not fit the gray data: nothing recorded
	other.Classes = 5
	RecordData(other, DataConfig{Dataset: "fashion-mnist"}, d)
	if _, ok, _ := other.Preprocessing(); ok {
		t.Error("preprocessing recorded for a model it does not fit")
	}
	if names, _ := other.ClassNames(); names != nil {
		t.Errorf("class names %v recorded for 5 classes", names)
	}
}
