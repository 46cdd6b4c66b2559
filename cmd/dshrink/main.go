// Command dshrink trains, searches, fine-tunes, merges, benchmarks and
// imports/exports MobileNetV2-family CNNs with the DepthShrinker method, and
// classifies images with the result.
//
// Where to start: `dshrink demo` (or ./scripts/demo.sh) runs the whole method
// on Fashion-MNIST and writes an HTML report; `dshrink COMMAND --help` shows
// each command with examples; `dshrink predict MODEL IMAGE...` classifies
// PNG or JPEG images with a trained, shrunk or imported model; `dshrink
// version` says which build, commit and kernel instruction set run. Commands
// that report take --json, whose output follows one convention (jsonout.go).
package main

import (
	"fmt"
	"os"

	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/spf13/cobra"
)

// rootCmd is the top-level command; each subcommand registers itself in an
// init function of its own file.
var rootCmd = &cobra.Command{
	Use:   "dshrink",
	Short: "Make compact CNNs faster by removing activations and merging layers (DepthShrinker)",
	Long: `dshrink makes MobileNetV2-family CNNs faster on real hardware with the
DepthShrinker method: learn which activation functions can go, fine-tune
without them, and merge each now-linear run of 1x1 / depthwise / 1x1
convolutions into one dense convolution, verified to compute the same function.`,
	SilenceUsage:  true,
	SilenceErrors: true,
	// Every command says loudly when the portable kernels run on a SIMD CPU.
	PersistentPreRun: func(cmd *cobra.Command, args []string) {
		if w := isa.Warning(); w != "" {
			fmt.Fprintln(os.Stderr, "dshrink:", w)
		}
	},
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dshrink:", err)
		os.Exit(1)
	}
}
