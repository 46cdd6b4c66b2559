package main

import (
	"fmt"
	"io"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/onnx"
	"github.com/spf13/cobra"
)

func init() {
	var out string
	var opts onnx.ExportOptions
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "export MODEL.dsk -o MODEL.onnx",
		Short: "Write a dshrink model (original, searched, fine-tuned or merged) as ONNX",
		Long: `Write a .dsk model as ONNX (IR version 8, opset 13 to 17) for ONNX Runtime,
TensorRT and other runtimes. Node names are the model's node names and
initializers its parameter names; metadata records the producer, the model's
metadata (the shrink plan among it) and the block/unit structure, so
"dshrink import" restores it. ReLU6 is written as Clip, a merged conv's
border bias map as an Add after the Conv.`,
		Example: `  dshrink export merged.dsk -o merged.onnx
  dshrink export merged.dsk -o merged_b1.onnx --batch 1      # fixed batch size
  dshrink export model.dsk -o model.onnx --opset 17          # HardSwish as one op`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("missing -o OUTPUT")
			}
			g, err := graph.Load(args[0])
			if err != nil {
				return err
			}
			data, err := onnx.Export(g, opts)
			if err != nil {
				return err
			}
			if err := fsutil.WriteFileAtomic(out, func(w io.Writer) error {
				_, err := w.Write(data)
				return err
			}); err != nil {
				return err
			}
			if jsonOut {
				return printJSON(cmd.OutOrStdout(), map[string]any{"model": args[0], "nodes": len(g.Nodes), "opset": max(opts.Opset, 13),
					"batch": opts.Batch, "bytes": len(data), "producer_version": onnx.Version, "outputs": map[string]string{"onnx": out}})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s (%d nodes) -> %s (%d bytes)\n", args[0], len(g.Nodes), out, len(data))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output ONNX file")
	cmd.Flags().IntVar(&opts.Opset, "opset", 13, "ONNX opset version (13 to 17)")
	cmd.Flags().IntVar(&opts.Batch, "batch", 0, "fixed batch size (0: dynamic)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	rootCmd.AddCommand(cmd)
}
