package main

import (
	"fmt"

	"github.com/dshrink/dshrink/onnx"
	"github.com/spf13/cobra"
)

func init() {
	var out string
	var noStructure bool
	cmd := &cobra.Command{
		Use:   "import MODEL.onnx -o MODEL.dsk",
		Short: "Convert an ONNX model (e.g. a PyTorch export) to a dshrink model",
		Long: `Convert an ONNX model, as PyTorch's exporter writes it (opset 11 to 17), to a
.dsk model. BatchNorm may be kept or folded; external data files are read
from the model's directory. The inverted residual blocks and the removable
activation units are recognised, so search, fine-tune and merge work on the
result; parameters keep torchvision's names where the file has them.
An op that dshrink cannot represent is reported with its node name.`,
		Example: `  dshrink import mobilenet_v2.onnx -o mbv2.dsk
  dshrink import model.onnx -o model.dsk --no-structure   # plain layers, no blocks/units
  dshrink inspect mbv2.dsk                                  # check what was recognised`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("missing -o OUTPUT")
			}
			g, err := onnx.ImportFile(args[0], onnx.ImportOptions{NoStructure: noStructure})
			if err != nil {
				return err
			}
			if err := g.Save(out); err != nil {
				return err
			}
			c, err := g.Cost()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s: input %v, %d nodes, %d blocks, %d units, %.2f M MACs, %.3f M params -> %s\n",
				args[0], g.Input.Shape, len(g.Nodes), len(g.Blocks), len(g.Units), float64(c.MACs)/1e6, float64(c.Params)/1e6, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output model file (.dsk)")
	cmd.Flags().BoolVar(&noStructure, "no-structure", false, "do not recognise blocks and removable activation units")
	rootCmd.AddCommand(cmd)
}
