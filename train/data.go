package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dshrink/dshrink/data"
)

// Datasets are the training and held-out sets of a run, with the
// normalisation of the training images (used to pad augmented crops with
// black).
type Datasets struct {
	Train, Eval data.Dataset
	EvalName    string // "test" or "val"
	Norm        data.Normalization
}

// LoadDataset reads split ("train" or "test") of the named data set
// (fashion-mnist, mnist, cifar10, cifar100) from dir ("" for the default
// location where there is one).
func LoadDataset(name, dir, split string) (*data.Images, error) {
	var train bool
	switch split {
	case "train":
		train = true
	case "test":
	default:
		return nil, fmt.Errorf("split %q: want train or test", split)
	}
	switch strings.ToLower(name) {
	case "fashion-mnist", "fashion_mnist", "fmnist":
		return data.FashionMNIST(dir, train)
	case "mnist":
		if dir == "" {
			return nil, fmt.Errorf("mnist needs a data directory")
		}
		return data.MNIST(dir, train)
	case "cifar10", "cifar-10":
		if dir == "" {
			return nil, fmt.Errorf("cifar10 needs a data directory")
		}
		return data.CIFAR10(dir, train)
	case "cifar100", "cifar-100":
		if dir == "" {
			return nil, fmt.Errorf("cifar100 needs a data directory")
		}
		return data.CIFAR100(dir, train, false)
	}
	if strings.EqualFold(name, "folder") {
		return nil, fmt.Errorf("data set folder needs an image size: use LoadFolder (or data.image_size in a config)")
	}
	return nil, fmt.Errorf("unknown data set %q: want fashion-mnist, mnist, cifar10 or cifar100", name)
}

// LoadFolder reads split ("train" or "test") of an image-folder data set:
// dir/train, and dir/test or else dir/val, each with one sub-folder per
// class (see data.ImageFolder), cropped to size x size after scaling the
// shorter side to resize (0: size).
func LoadFolder(dir, split string, size, resize int, gray bool) (*data.Images, error) {
	if dir == "" {
		return nil, fmt.Errorf("image folder: no directory given")
	}
	sub := filepath.Join(dir, split)
	switch split {
	case "train":
	case "test":
		if _, err := os.Stat(sub); errors.Is(err, os.ErrNotExist) {
			if _, verr := os.Stat(filepath.Join(dir, "val")); verr == nil {
				sub = filepath.Join(dir, "val")
			}
		}
	default:
		return nil, fmt.Errorf("split %q: want train or test", split)
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("image folder %s: want a sub-folder %q with one folder of images per class", dir, split)
	}
	return data.ImageFolder(sub, data.FolderOptions{Size: size, Resize: resize, Gray: gray})
}

// loadSplit reads split of the data set c describes.
func loadSplit(c DataConfig, split string) (*data.Images, error) {
	if strings.EqualFold(c.Dataset, "folder") {
		return LoadFolder(c.Dir, split, c.ImageSize, c.Resize, c.Gray)
	}
	return LoadDataset(c.Dataset, c.Dir, split)
}

// LoadDatasets builds the training and held-out sets described by c (with
// seed for the subsets and validation split).
func LoadDatasets(c DataConfig, seed uint64) (*Datasets, error) {
	trainAll, err := loadSplit(c, "train")
	if err != nil {
		return nil, err
	}
	d := &Datasets{Train: trainAll, Norm: trainAll.Normalization(), EvalName: "test"}
	if c.ValSplit > 0 {
		if c.ValSplit >= trainAll.Len() {
			return nil, fmt.Errorf("data.val_split %d leaves no training images (%d in all)", c.ValSplit, trainAll.Len())
		}
		tr, val, err := data.Split(trainAll, c.ValSplit, seed)
		if err != nil {
			return nil, fmt.Errorf("validation split: %w", err)
		}
		d.Train, d.Eval, d.EvalName = tr, val, "val"
	} else {
		test, err := loadSplit(c, "test")
		if err != nil {
			return nil, err
		}
		// Folder labels are class indices in name order: different class
		// folders would score every image against another class's label.
		if tc, ec := trainAll.ClassNames(), test.ClassNames(); tc != nil && ec != nil && !slices.Equal(tc, ec) {
			return nil, fmt.Errorf("image folder %s: the held-out classes %v differ from the training classes %v; "+
				"the labels would not match (give every split the same class folders)", c.Dir, ec, tc)
		}
		d.Eval = test
		if c.TestSubset > 0 && c.TestSubset < test.Len() {
			idx := make([]int, c.TestSubset)
			for i := range idx {
				idx[i] = i
			}
			sub, err := data.NewSubset(test, idx)
			if err != nil {
				return nil, fmt.Errorf("test subset: %w", err)
			}
			d.Eval = sub
		}
	}
	if c.TrainSubset > 0 && c.TrainSubset < d.Train.Len() {
		_, sub, err := data.Split(d.Train, c.TrainSubset, seed^0x5ab5e7)
		if err != nil {
			return nil, fmt.Errorf("training subset: %w", err)
		}
		d.Train = sub
	}
	return d, nil
}

// Transforms returns the training augmentation of c.
func (c DataConfig) Transforms(norm data.Normalization, channels int) []data.Transform {
	var ts []data.Transform
	if c.RandomCropPad > 0 {
		ts = append(ts, data.RandomCrop{Pad: c.RandomCropPad, Fill: norm.Black(channels)})
	}
	if c.HFlip {
		ts = append(ts, data.RandomHFlip{P: 0.5})
	}
	if c.RandomErasing > 0 {
		ts = append(ts, data.RandomErasing{P: c.RandomErasing})
	}
	return ts
}
