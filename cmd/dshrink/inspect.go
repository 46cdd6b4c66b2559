package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/onnx"
	"github.com/spf13/cobra"
)

// loadAny reads a .dsk model or an ONNX model (by extension).
func loadAny(path string) (*graph.Graph, error) {
	if strings.HasSuffix(strings.ToLower(path), ".onnx") {
		return onnx.ImportFile(path, onnx.ImportOptions{})
	}
	return graph.Load(path)
}

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "List a model's layers, shapes, MACs, parameters and mergeable chains",
		Long: `Print a table of the layers of a model (.dsk or .onnx) with output shapes,
MACs and parameters per image, the totals, the recognised inverted residual
blocks and removable activation units, and every expand 1x1 -> depthwise ->
project 1x1 chain: mergeable now (only identity activations inside), mergeable
once a plan removes its units, or not (an activation outside any unit).`,
		Example: `  dshrink inspect mobilenet_v2.onnx
  dshrink inspect merged.dsk --json | jq '.chains[] | select(.mergeable)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadAny(args[0])
			if err != nil {
				return err
			}
			r, err := onnx.Describe(g)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", " ")
				return enc.Encode(r)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "layer\top\tdetail\toutput\tMACs\tparams\t\n")
			for _, l := range r.Layers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%d\t\n", l.Name, l.Op, l.Detail, l.Shape, l.MACs, l.Params)
			}
			fmt.Fprintf(tw, "total\t\t\t\t%d\t%d\t\n", r.MACs, r.Params)
			tw.Flush()
			fmt.Fprintf(w, "\nmodel %s, input %v\n", r.Model, r.Input)
			if g.Meta["plan.pad_first"] == "true" && g.Meta["merged"] != "true" {
				fmt.Fprintf(w, "pad-first form (fine-tuned or plan-applied, not merged): each block to merge pads its input once and\n"+
					"runs its expand 1x1 convolution on the padded grid, so the MACs above exceed the original's until\n"+
					"dshrink merge removes that cost (docs/method.md)\n")
			}
			if len(r.Blocks) > 0 {
				fmt.Fprintf(w, "\nblocks (%d):\n", len(r.Blocks))
				for _, b := range r.Blocks {
					res := ""
					if b.Residual {
						res = " +residual"
					}
					if b.SE {
						res += " +SE"
					}
					if b.Groups > 1 {
						res += fmt.Sprintf(" groups=%d", b.Groups)
					}
					kind := b.Kind
					if kind == "" {
						kind = graph.BlockInvertedResidual
					}
					fmt.Fprintf(w, "  %-14s %-20s %3d -> %3d  hidden %4d (t=%d)  k%d s%d%s  unit %s\n", b.Name, kind, b.InC, b.OutC, b.Hidden, b.Expand, b.Kernel, b.Stride, res, b.Unit)
				}
			}
			fmt.Fprintf(w, "\nremovable activation units (%d): %s\n", len(r.Units), strings.Join(r.Units, " "))
			fmt.Fprintf(w, "\nchains (%d):\n", len(r.Chains))
			for _, c := range r.Chains {
				state := "NOT mergeable"
				switch {
				case c.Mergeable:
					state = "mergeable"
				case c.Removable:
					state = "mergeable after removing units"
				}
				fmt.Fprintf(w, "  %-14s %s  k%d s%d  %d -> %d  MACs %d -> %d merged\n    %s: %s\n", c.Name, strings.Join(c.Convs, " > "), c.Kernel, c.Stride, c.InC, c.OutC, c.ChainMACs, c.MergedMACs, state, c.Reason)
			}
			fmt.Fprintf(w, "\n%s\n", r.Summary)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	rootCmd.AddCommand(cmd)
}
