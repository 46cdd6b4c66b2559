package main

import (
	"fmt"

	"github.com/dshrink/dshrink/onnx"
	"github.com/spf13/cobra"
)

func init() {
	var out string
	var noStructure bool
	pf := prepFlags{prep: true}
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "import MODEL.onnx -o MODEL.dsk",
		Short: "Convert an ONNX model (e.g. a PyTorch export) to a dshrink model",
		Long: `Convert an ONNX model, as PyTorch's exporter writes it (opset 11 to 17), to a
.dsk model. BatchNorm may be kept or folded; external data files are read
from the model's directory. The inverted residual blocks and the removable
activation units are recognised, so search, fine-tune and merge work on the
result; parameters keep torchvision's names where the file has them.
An op that dshrink cannot represent is reported with its node name.

The model file also records how images become the model's input, for
dshrink predict: torchvision's ImageNet evaluation convention unless the
ONNX file carries a dshrink preprocessing entry (the shorter side scaled to
8/7 of the crop, 256 for 224; ImageNet mean and std; gray, mean 0.5, std 0.5
for one channel), or what --resize, --mean and --std say; --labels names the
classes (one per line, in output order).`,
		Example: `  dshrink import mobilenet_v2.onnx -o mbv2.dsk
  dshrink import model.onnx -o model.dsk --no-structure   # plain layers, no blocks/units
  dshrink import mbv2.onnx -o mbv2.dsk --labels imagenet_classes.txt   # class names for predict
  dshrink import model.onnx -o model.dsk --resize 32 --mean 0.49,0.48,0.45 --std 0.25,0.24,0.26
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
			if err := pf.apply(cmd, g); err != nil {
				return err
			}
			if err := g.Save(out); err != nil {
				return err
			}
			c, err := g.Cost()
			if err != nil {
				return err
			}
			if jsonOut {
				return printJSON(cmd.OutOrStdout(), map[string]any{"model": args[0], "input": g.Input.Shape, "nodes": len(g.Nodes),
					"blocks": len(g.Blocks), "units": len(g.Units), "macs": c.MACs, "params": c.Params, "preprocessing": recordedPreprocessing(g), "outputs": map[string]string{"model": out}})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s: input %v, %d nodes, %d blocks, %d units, %.2f M MACs, %.3f M params -> %s\n",
				args[0], g.Input.Shape, len(g.Nodes), len(g.Blocks), len(g.Units), float64(c.MACs)/1e6, float64(c.Params)/1e6, out)
			if pre, ok, _ := g.Preprocessing(); ok {
				fmt.Fprintf(cmd.OutOrStdout(), "preprocessing for predict: %s\n", describePreprocessing(pre))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output model file (.dsk)")
	cmd.Flags().BoolVar(&noStructure, "no-structure", false, "do not recognise blocks and removable activation units")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	pf.register(cmd)
	rootCmd.AddCommand(cmd)
}
