package main

import (
	"fmt"

	"github.com/dshrink/dshrink/onnx"
	"github.com/spf13/cobra"
)

func init() {
	var out string
	var noStructure, check bool
	pf := prepFlags{prep: true}
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "import MODEL.onnx -o MODEL.dsk | import --check MODEL.onnx",
		Short: "Convert an ONNX model (e.g. a PyTorch export) to a dshrink model",
		Long: `Convert an ONNX model, as PyTorch's exporter writes it (opset 11 to 17), to a
.dsk model. BatchNorm may be kept or folded; external data files are read
from the model's directory. The inverted residual blocks and the removable
activation units are recognised, so search, fine-tune and merge work on the
result; parameters keep torchvision's names where the file has them.
An op that dshrink cannot represent is reported with its node name;
--check lists every such op at once (op type, count, first nodes, why) and
exits non-zero, or says that the model imports and exits 0.

Supported: the ops torchvision's compact CNNs export to (MobileNetV2/V3,
EfficientNet, MNASNet, ResNet, ShuffleNetV2, RegNet): Conv (any groups),
BatchNormalization, Relu, Clip (ReLU6), HardSigmoid, HardSwish, Sigmoid,
x*Sigmoid(x) (SiLU), MaxPool, AveragePool, GlobalAveragePool and
ReduceMean over H and W, squeeze-and-excitation's Mul, channel Concat,
Slice and Split, channel shuffle (Reshape, Transpose, Reshape), Flatten,
Gemm, MatMul, Add, Pad, Dropout, Identity, Softmax; the shape arithmetic
(Shape, Gather, Unsqueeze, Concat, Div, Cast...) is evaluated for the
model's input size. Blocks are recognised per family and named after the
PyTorch modules (features.3, layers.8.0, layer1.0, stage2.0.branch2,
trunk_output.block1.block1-0), so a plan maps back to the model.

The model file also records how images become the model's input, for
dshrink predict: torchvision's ImageNet evaluation convention unless the
ONNX file carries a dshrink preprocessing entry (the shorter side scaled to
8/7 of the crop, 256 for 224; ImageNet mean and std; gray, mean 0.5, std 0.5
for one channel), or what --resize, --mean and --std say; --labels names the
classes (one per line, in output order).`,
		Example: `  dshrink import mobilenet_v2.onnx -o mbv2.dsk
  dshrink import --check model.onnx                          # list every op dshrink cannot import
  dshrink import model.onnx -o model.dsk --no-structure   # plain layers, no blocks/units
  dshrink import mbv2.onnx -o mbv2.dsk --labels imagenet_classes.txt   # class names for predict
  dshrink import model.onnx -o model.dsk --resize 32 --mean 0.49,0.48,0.45 --std 0.25,0.24,0.26
  dshrink inspect mbv2.dsk                                  # check what was recognised`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if check {
				return runImportCheck(cmd, args[0], noStructure, jsonOut)
			}
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
	cmd.Flags().BoolVar(&check, "check", false, "only check: list every op that cannot be imported (exit status 1 if any); no -o needed")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	pf.register(cmd)
	rootCmd.AddCommand(cmd)
}

// runImportCheck lists every op of the model that cannot be imported and
// fails when there is one.
func runImportCheck(cmd *cobra.Command, path string, noStructure, jsonOut bool) error {
	r, err := onnx.CheckFile(path, onnx.ImportOptions{NoStructure: noStructure})
	if err != nil {
		return err
	}
	if jsonOut {
		problems := append([]onnx.Problem{}, r.Problems...)
		res := map[string]any{"model": path, "ok": r.OK(), "nodes": r.Nodes, "opset": r.Opset, "problems": problems}
		if r.Graph != nil {
			res["blocks"], res["units"] = len(r.Graph.Blocks), len(r.Graph.Units)
		}
		if err := printJSON(cmd.OutOrStdout(), res); err != nil {
			return err
		}
	} else if r.OK() {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s; %d blocks, %d removable activation units recognised\n", path, r, len(r.Graph.Blocks), len(r.Graph.Units))
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", path, r)
	}
	if !r.OK() {
		n := 0
		for _, p := range r.Problems {
			n += p.Count
		}
		return fmt.Errorf("%s: %d nodes of %d op types cannot be imported", path, n, len(r.Problems))
	}
	return nil
}
