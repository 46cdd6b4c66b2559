package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/runtime"
	"github.com/spf13/cobra"
)

// prediction is one of an image's top-k classes.
type prediction struct {
	Class       int     `json:"class"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// imagePrediction is the result of predict for one image.
type imagePrediction struct {
	Image string       `json:"image"`
	Top   []prediction `json:"top"`
}

// predictOpts holds predict's flags.
type predictOpts struct {
	top, batch, threads int
	labels              string
	resize              int
	gray                bool
	mean, std           []float32
	jsonOut             bool
	// Which preprocessing flags were given (they override the model's).
	setResize, setGray, setMean, setStd bool
}

func init() {
	var o predictOpts
	cmd := &cobra.Command{
		Use:   "predict MODEL IMAGE... [--top 5] [--json]",
		Short: "Classify PNG or JPEG images with a model: the top classes and their probabilities",
		Long: `Run a model (.dsk, or .onnx imported on the fly) on PNG or JPEG images and
print each image's top classes with their softmax probabilities.

Each image goes through exactly the preprocessing the model was trained or
evaluated with, which the model file records (dshrink train, shrink, demo and
finetune store their data set's; dshrink import stores torchvision's ImageNet
convention or the one given by its flags): the shorter side scaled to the
resize length (antialiased bilinear, as PIL), the centre crop of the model's
input size, gray when the model takes one channel, then the mean and standard
deviation. The class names come from the model file too (the data set's, or
--labels at import or train time). A model without them (dshrink new) gets
the usual defaults, with a warning; --resize, --gray, --mean and --std
override what the model records, --labels its class names.

Images are decoded as Pillow (and so torchvision) decodes them, JPEG chroma
upsampling included, so a model imported from PyTorch gives PyTorch's top-5
on the same files (a test checks it). Images are run in batches of --batch;
an image that cannot be read stops the command with its name.`,
		Example: `  dshrink predict runs/demo/shrunk.dsk shirt.png boot.jpg
  dshrink predict mbv2.dsk photos/*.jpg --top 3
  dshrink predict mbv2.dsk cat.jpg --json | jq '.images[0].top[0].name'
  dshrink predict model.dsk img.png --labels classes.txt --resize 256   # override the model's`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.setResize, o.setGray, o.setMean, o.setStd = f.Changed("resize"), f.Changed("gray"), f.Changed("mean"), f.Changed("std")
			return runPredict(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1:], o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.top, "top", 5, "number of classes to print per image")
	f.IntVar(&o.batch, "batch", 16, "images per run of the model")
	f.IntVar(&o.threads, "threads", 0, "compute threads, 0 = all cores")
	f.StringVar(&o.labels, "labels", "", "class names, one per line in output order (overrides the model's)")
	f.IntVar(&o.resize, "resize", 0, "scale the shorter side to this before the centre crop (overrides the model's)")
	f.BoolVar(&o.gray, "gray", false, "convert to one luma channel (overrides the model's)")
	f.Float32SliceVar(&o.mean, "mean", nil, "normalisation mean per channel, in [0, 1] units (overrides the model's)")
	f.Float32SliceVar(&o.std, "std", nil, "normalisation standard deviation per channel (overrides the model's)")
	f.BoolVar(&o.jsonOut, "json", false, "print the predictions as JSON")
	rootCmd.AddCommand(cmd)
}

// runPredict classifies images with the model at modelPath and prints the
// top classes of each to w (warnings to logw).
func runPredict(w, logw io.Writer, modelPath string, images []string, o predictOpts) error {
	if o.top <= 0 {
		return fmt.Errorf("predict: --top %d, want > 0", o.top)
	}
	if o.batch <= 0 {
		return fmt.Errorf("predict: --batch %d, want > 0", o.batch)
	}
	g, err := loadModel(modelPath)
	if err != nil {
		return err
	}
	pre, recorded, err := g.Preprocessing()
	if err != nil {
		return err
	}
	if !recorded {
		pre = defaultPreprocessing(g.Input.Shape)
		if !(o.setResize && o.setMean && o.setStd) {
			fmt.Fprintf(logw, "predict: %s records no preprocessing; using %s (set --resize, --mean and --std, or --gray, to change it)\n",
				modelPath, describePreprocessing(pre))
		}
	}
	if o.setResize {
		pre.Resize = o.resize
	}
	if o.setGray {
		pre.Gray = o.gray
	}
	if o.setMean {
		pre.Mean = o.mean
	}
	if o.setStd {
		pre.Std = o.std
	}
	if err := pre.Validate(g.Input.Shape); err != nil {
		return fmt.Errorf("predict: %s: %w", modelPath, err)
	}
	names, err := g.ClassNames()
	if err != nil {
		return err
	}
	if o.labels != "" {
		if names, err = readLabels(o.labels, g.Classes); err != nil {
			return err
		}
	}

	threads := o.threads
	if threads <= 0 {
		threads = goruntime.NumCPU()
	}
	batch := min(o.batch, len(images))
	prog, err := runtime.Compile(g, runtime.Options{Batch: batch, Threads: threads})
	if err != nil {
		return fmt.Errorf("predict: compile %s: %w", modelPath, err)
	}
	if s := prog.OutputShape(); len(s) != 1 {
		return fmt.Errorf("predict: %s outputs %v per image, not one score per class", modelPath, s)
	}
	in, outLen := prog.InputLen(), prog.OutputLen()
	if names != nil && len(names) != outLen {
		return fmt.Errorf("predict: %d class names for the model's %d outputs", len(names), outLen)
	}
	opt := data.FolderOptions{Size: pre.Size, Resize: pre.Resize, Gray: pre.Gray,
		Norm: data.Normalization{Mean: pre.Mean, Std: pre.Std}}
	x := make([]float32, batch*in)
	out := make([]float32, batch*outLen)
	res := make([]imagePrediction, 0, len(images))
	for start := 0; start < len(images); start += batch {
		n := min(batch, len(images)-start)
		for i := 0; i < n; i++ {
			v, err := data.ReadImage(images[start+i], opt)
			if err != nil {
				return fmt.Errorf("predict: %w", err)
			}
			copy(x[i*in:(i+1)*in], v)
		}
		if err := prog.Run(x[:n*in], out[:n*outLen]); err != nil {
			return fmt.Errorf("predict: run %s: %w", modelPath, err)
		}
		for i := 0; i < n; i++ {
			res = append(res, imagePrediction{Image: images[start+i], Top: topK(out[i*outLen:(i+1)*outLen], o.top, names)})
		}
	}

	if o.jsonOut {
		return printJSON(w, map[string]any{"model": modelPath, "preprocessing": pre, "images": res})
	}
	for _, r := range res {
		fmt.Fprintln(w, r.Image)
		for k, p := range r.Top {
			if names == nil {
				fmt.Fprintf(w, "  %d. %-10s %6.2f%%\n", k+1, p.Name, 100*p.Probability)
				continue
			}
			fmt.Fprintf(w, "  %d. %-24s %6.2f%%  (class %d)\n", k+1, p.Name, 100*p.Probability, p.Class)
		}
	}
	return nil
}

// topK returns the k most probable classes of logits (softmax, computed in
// float64), most probable first; equal probabilities keep class order.
func topK(logits []float32, k int, names []string) []prediction {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	p := make([]float64, len(logits))
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	k = min(k, len(idx))
	top := make([]prediction, k)
	for j, c := range idx[:k] {
		name := fmt.Sprintf("class %d", c)
		if names != nil {
			name = names[c]
		}
		top[j] = prediction{Class: c, Name: name, Probability: p[c] / sum}
	}
	return top
}

// defaultPreprocessing is the usual preprocessing for a model that records
// none: torchvision's ImageNet convention for RGB (the shorter side to 8/7 of
// the crop, 256 for 224; ImageNet mean and std), the crop alone and mean 0.5,
// std 0.5 for one channel.
func defaultPreprocessing(shape []int) graph.Preprocessing {
	size := 0
	if len(shape) == 3 {
		size = shape[1]
	}
	if len(shape) == 3 && shape[0] == 1 {
		return graph.Preprocessing{Size: size, Gray: true, Mean: []float32{0.5}, Std: []float32{0.5}}
	}
	return graph.Preprocessing{Size: size, Resize: (size*8 + 3) / 7, Mean: data.ImageNetNorm.Mean, Std: data.ImageNetNorm.Std}
}

// describePreprocessing says p in words, for messages.
func describePreprocessing(p graph.Preprocessing) string {
	var b strings.Builder
	if p.Resize > p.Size {
		fmt.Fprintf(&b, "resize %d, ", p.Resize)
	}
	fmt.Fprintf(&b, "centre crop %d", p.Size)
	if p.Gray {
		b.WriteString(", gray")
	} else {
		b.WriteString(", RGB")
	}
	fmt.Fprintf(&b, ", mean %v, std %v", p.Mean, p.Std)
	return b.String()
}

// readLabels reads class names from path, one per line (surrounding spaces
// trimmed, a final newline optional), and checks that there are classes of
// them when classes > 0.
func readLabels(path string, classes int) ([]string, error) {
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		names = append(names, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	for len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	if classes > 0 && len(names) != classes {
		return nil, fmt.Errorf("labels %s: %d names, the model has %d classes", path, len(names), classes)
	}
	return names, nil
}
