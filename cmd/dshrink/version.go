package main

import (
	"fmt"
	"io"
	goruntime "runtime"

	"github.com/dshrink/dshrink/internal/buildinfo"
	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/spf13/cobra"
)

// versionInfo is what `dshrink version` reports.
type versionInfo struct {
	Version string `json:"version"`
	buildinfo.Info
	ISA     string `json:"isa"`
	CPUs    int    `json:"cpus"`
	Warning string `json:"warning,omitempty"`
}

func currentVersion() versionInfo {
	bi := buildinfo.Read()
	return versionInfo{Version: bi.Version(), Info: bi, ISA: isa.Describe(), CPUs: goruntime.NumCPU(), Warning: isa.Warning()}
}

// printVersion writes v as the text of `dshrink version`.
func printVersion(w io.Writer, v versionInfo) {
	fmt.Fprintf(w, "dshrink %s\n", v.Version)
	if v.Commit != "" {
		mod := ""
		if v.Modified {
			mod = ", uncommitted changes"
		}
		fmt.Fprintf(w, "commit   %s (%s%s)\n", v.Commit, v.CommitTime, mod)
	} else {
		fmt.Fprintln(w, "commit   unknown (built without version control information: go build -buildvcs=auto in a git checkout records it)")
	}
	fmt.Fprintf(w, "module   %s %s\n", buildinfo.ModulePath, v.Module)
	fmt.Fprintf(w, "go       %s %s/%s\n", v.Go, v.OS, v.Arch)
	fmt.Fprintf(w, "kernels  %s, %d CPUs\n", v.ISA, v.CPUs)
	if v.Warning != "" {
		fmt.Fprintln(w, v.Warning)
	}
}

func init() {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print dshrink's version, commit, Go version and the kernels' instruction set",
		Long: `Print which dshrink this is: the module version, the version-control commit
it was built from (recorded by go build in a git checkout), the Go version and
platform, and the instruction set the compute kernels use (avx512, avx2 or the
portable Go kernels, with the reason when it is below what the CPU offers, e.g.
DSHRINK_ISA). Exported ONNX models carry the same version as producer_version.
dshrink --version prints the first line.`,
		Example: `  dshrink version
  dshrink version --json | jq -r .commit
  dshrink --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion()
			if jsonOut {
				return printJSON(cmd.OutOrStdout(), v)
			}
			printVersion(cmd.OutOrStdout(), v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the version information as JSON")
	rootCmd.AddCommand(cmd)

	v := currentVersion()
	rootCmd.Version = v.Version
	rootCmd.SetVersionTemplate(fmt.Sprintf("dshrink %s (%s, kernels %s)\n", v.Version, v.Go, v.ISA))
}
