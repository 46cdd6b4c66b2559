package train

import (
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
)

// RecordData records in g how the data set c describes turns an image into
// the model's input (resize, centre crop, gray, the normalisation of d) and
// the data set's class names when they are known and the model has none
// (names from --labels at import or train time stay), so that the saved model
// carries them and `dshrink predict` needs no flags. What does not fit the
// model (a non-square input, a class count that differs) is left out: the
// model stays usable, only without that metadata.
func RecordData(g *graph.Graph, c DataConfig, d *Datasets) {
	if d == nil || d.Train == nil {
		return
	}
	ch, h, w := d.Train.Shape()
	if h == w {
		p := graph.Preprocessing{Size: h, Gray: ch == 1, Mean: d.Norm.Mean, Std: d.Norm.Std}
		if strings.EqualFold(c.Dataset, "folder") && c.Resize > h {
			p.Resize = c.Resize
		}
		if p.Mean == nil && p.Std == nil {
			p.Mean, p.Std = []float32{0}, []float32{1}
		}
		_ = g.SetPreprocessing(p) // rejected when it does not fit g's input
	}
	if have, err := g.ClassNames(); err == nil && have != nil {
		return // names given at import or train time (--labels) stay
	}
	if names := dataClassNames(c, d); len(names) == d.Train.NumClasses() {
		_ = g.SetClassNames(names) // rejected when g has another class count
	}
}

// dataClassNames returns the class names of the data set, or nil.
func dataClassNames(c DataConfig, d *Datasets) []string {
	for _, ds := range []data.Dataset{d.Train, d.Eval} {
		if n, ok := ds.(interface{ ClassNames() []string }); ok && n.ClassNames() != nil {
			return n.ClassNames()
		}
	}
	switch strings.ToLower(c.Dataset) {
	case "fashion-mnist", "fashion_mnist", "fmnist":
		return data.FashionMNISTClasses
	case "mnist":
		names := make([]string, 10)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return names
	case "cifar10", "cifar-10":
		return data.CIFAR10Classes
	}
	return nil
}
