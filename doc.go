// Package dshrink is the root of the dshrink module, a pure-Go toolkit that
// makes compact CNNs (the MobileNetV2 family) faster on real hardware with
// the DepthShrinker method: learn which activation functions can go,
// fine-tune without them, and merge each now-linear run of 1x1 / depthwise /
// 1x1 convolutions into one dense convolution, verified to compute the same
// function. This package holds no code; it says where to start.
//
// # The command line
//
// cmd/dshrink is the program (go build -o dshrink ./cmd/dshrink in a checkout).
// ./scripts/demo.sh runs the whole method on Fashion-MNIST; every command has
// --help with examples: new, train, eval, search, finetune, shrink, merge,
// bench, profile, plan, import, export, inspect, predict, demo, report,
// version.
//
// # The Go API
//
// The packages a program uses, in the order a model goes through them, each
// with a runnable example:
//
//   - graph: the model (graph.Load and Graph.Save read and write .dsk files;
//     Graph.Preprocessing and Graph.ClassNames say how images become its
//     input and what its outputs mean).
//   - onnx: import a PyTorch export (onnx.ImportFile, see ExampleImport) and
//     export a model for ONNX Runtime (onnx.Export).
//   - data: data sets, and one image through a model's preprocessing
//     (data.ReadImage, see ExampleReadImage).
//   - runtime: compile a model and run it (runtime.Compile, Program.Run, see
//     ExampleCompile); this is the fast inference path.
//   - plan and merge: choose the blocks that lose their activations
//     (plan.Resolve, plan.Apply) and merge them with verification
//     (merge.Merge, merge.Verify, see ExampleMerge).
//   - train and shrink: training with exact resume (train.Run), and the
//     DepthShrinker search, fine-tuning and pipeline (shrink).
//   - latency: measured latency tables and the latency-aware planner.
//   - models: MobileNetV2 and EfficientNet-Lite0 builders.
//
// A minimal classifier, as `dshrink predict` does it:
//
//	g, _ := graph.Load("model.dsk")
//	pre, _, _ := g.Preprocessing()
//	x, _ := data.ReadImage("shirt.png", data.FolderOptions{Size: pre.Size, Resize: pre.Resize,
//		Gray: pre.Gray, Norm: data.Normalization{Mean: pre.Mean, Std: pre.Std}})
//	prog, _ := runtime.Compile(g, runtime.Options{Batch: 1, Threads: 2})
//	logits := make([]float32, prog.OutputLen())
//	_ = prog.Run(x, logits)
//	names, _ := g.ClassNames() // logits[i] scores names[i]
//
// (errors elided). The method, the merge algebra with its padding proof, and
// the architecture are described in the repository's docs/ folder.
package dshrink
