package main

import (
	"strings"

	"github.com/dshrink/dshrink/plan"
	"github.com/spf13/cobra"
)

// flagCompletions lists, per flag name, the values shell completion offers
// (`dshrink completion bash|zsh|fish|powershell`). A flag that also takes a
// file (--plan: a preset or a plan file) completes file names too. Every
// command that has a flag of that name gets the same values.
var flagCompletions = map[string]struct {
	values func() []cobra.Completion
	files  bool
}{
	"plan":       {values: plan.PresetNames, files: true},
	"preset":     {values: fixed("imagenet", "fashion-mnist")},
	"data":       {values: fixed("fashion-mnist", "mnist", "cifar10", "cifar100", "folder")},
	"split":      {values: fixed("train", "test")},
	"winograd":   {values: fixed("auto", "on", "off")},
	"pad-form":   {values: fixed("bias-map", "pad-first")},
	"decide":     {values: fixed("latency", "macs")},
	"runtime":    {values: fixed("ours", "ort")},
	"baseline":   {values: fixed("random", "last-k")},
	"opset":      {values: fixed("13", "14", "15", "16", "17")},
	"importance": {values: fixed("uniform"), files: true},
}

// fixed returns a value list for flagCompletions.
func fixed(values ...string) func() []cobra.Completion {
	return func() []cobra.Completion { return values }
}

// registerCompletions attaches flagCompletions to every command's flags.
// It runs once the commands exist (cobra.OnInitialize, before any command,
// the shell's hidden completion request included).
func registerCompletions() {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, fc := range flagCompletions {
			if c.Flags().Lookup(name) == nil {
				continue
			}
			// Registering twice is an error we can ignore: the first one stands.
			_ = c.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
				var out []cobra.Completion
				for _, v := range fc.values() {
					if strings.HasPrefix(v, prefix) {
						out = append(out, v)
					}
				}
				if fc.files {
					return out, cobra.ShellCompDirectiveDefault // values, and file names
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			})
		}
		// profile and plan take a model file or a named model.
		if (c.Name() == "profile" || c.Name() == "plan") && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				var out []cobra.Completion
				for _, v := range []string{"mobilenet_v2", "fashion-mnist"} {
					if strings.HasPrefix(v, prefix) {
						out = append(out, v)
					}
				}
				return out, cobra.ShellCompDirectiveDefault // and model files
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(rootCmd)
}

func init() {
	cobra.OnInitialize(registerCompletions)
}
