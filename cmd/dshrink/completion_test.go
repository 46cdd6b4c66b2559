package main

import (
	"bytes"
	"strings"
	"testing"
)

// complete runs cobra's hidden completion command for args and returns the
// offered values.
func complete(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&bytes.Buffer{})
	rootCmd.SetArgs(append([]string{"__complete"}, args...))
	defer rootCmd.SetArgs(nil)
	if err := rootCmd.Execute(); err != nil {
		t.Fatalf("complete %v: %v", args, err)
	}
	return out.String()
}

// TestCompletion checks that enum flags, presets and architectures complete.
func TestCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"new", ""}, []string{"mobilenet_v2", "efficientnet_lite0"}},
		{[]string{"new", "x", "--preset", ""}, []string{"imagenet", "fashion-mnist"}},
		{[]string{"merge", "m.dsk", "--plan", "ds-"}, []string{"ds-a", "ds-f"}},
		{[]string{"merge", "m.dsk", "--pad-form", ""}, []string{"bias-map", "pad-first"}},
		{[]string{"eval", "m.dsk", "--data", "c"}, []string{"cifar10", "cifar100"}},
		{[]string{"bench", "m.dsk", "--winograd", ""}, []string{"auto", "on", "off"}},
		{[]string{"search", "--baseline", ""}, []string{"random", "last-k"}},
		{[]string{"profile", ""}, []string{"mobilenet_v2", "fashion-mnist"}},
	} {
		out := complete(t, c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("complete %v: want %q among\n%s", c.args, w, out)
			}
		}
	}
}
