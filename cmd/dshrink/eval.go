package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/train"
	"github.com/spf13/cobra"
)

func init() {
	var (
		dataset string
		dir     string
		split   string
		batch   int
		threads int
		jsonOut bool
		size    int
		resize  int
		gray    bool
	)
	cmd := &cobra.Command{
		Use:   "eval MODEL [--data fashion-mnist] [--split test]",
		Short: "Evaluate a model: top-1 and top-5 accuracy and cross-entropy loss",
		Long: `Run a model (a .dsk file such as the model.dsk of a training run, or a
training checkpoint.safetensors) in eval mode over a data split and print its
top-1 and top-5 accuracy and its mean cross-entropy loss.`,
		Example: `  dshrink eval runs/fmnist-mbv2-0.5/model.dsk
  dshrink eval runs/fmnist-mbv2-0.5/checkpoint.safetensors --split train --json
  dshrink eval model.dsk --data cifar10 --dir ~/data/cifar-10-batches-bin
  dshrink eval model.dsk --data folder --dir ~/data/flowers --image-size 224 --resize 256   # flowers/test (or val)/CLASS/*.jpg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if threads > 0 {
				parallel.SetThreads(threads)
			}
			g, err := graph.Load(args[0])
			if err != nil {
				// A training checkpoint holds a model too.
				ck, cerr := train.LoadCheckpoint(args[0])
				if cerr != nil {
					if errors.Is(err, graph.ErrCheckpoint) {
						return cerr // the checkpoint's own error, not the model reader's
					}
					return err
				}
				g = ck.Graph
			}
			var ds data.Dataset
			if dataset == "folder" {
				if size <= 0 {
					return fmt.Errorf("eval: --data folder needs --image-size")
				}
				ds, err = train.LoadFolder(dir, split, size, resize, gray)
			} else {
				ds, err = train.LoadDataset(dataset, dir, split)
			}
			if err != nil {
				return err
			}
			r, err := train.EvaluateGraph(g, ds, batch)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				return json.NewEncoder(w).Encode(map[string]any{"model": args[0], "data": dataset, "split": split,
					"top1": r.Top1, "top5": r.Top5, "loss": r.Loss, "images": r.Count, "img_per_s": r.ImgPerSec})
			}
			fmt.Fprintf(w, "%s on %s %s (%d images): top-1 %.2f%%, top-5 %.2f%%, loss %.4f (%.0f img/s)\n",
				args[0], dataset, split, r.Count, 100*r.Top1, 100*r.Top5, r.Loss, r.ImgPerSec)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataset, "data", "fashion-mnist", "data set: fashion-mnist, mnist, cifar10, cifar100 or folder (DIR/train, DIR/test or DIR/val, one sub-folder per class)")
	f.IntVar(&size, "image-size", 0, "folder: side of the square centre crop")
	f.IntVar(&resize, "resize", 0, "folder: scale the shorter side to this before cropping (0 = --image-size)")
	f.BoolVar(&gray, "gray", false, "folder: one luma channel instead of RGB")
	f.StringVar(&dir, "dir", "", "folder of the data files (default for fashion-mnist: the Debian location)")
	f.StringVar(&split, "split", "test", "train or test")
	f.IntVar(&batch, "batch", 500, "evaluation batch size")
	f.IntVar(&threads, "threads", 0, "compute threads, 0 = all cores")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	rootCmd.AddCommand(cmd)
}
