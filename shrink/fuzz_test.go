package shrink

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig feeds arbitrary YAML to the pipeline configuration
// reader: an accepted configuration must validate and give valid training
// configurations for every stage.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"shrink-fmnist.yaml", "shrink-quick.yaml", "search.yaml", "finetune.yaml", "demo.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "configs", name)); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"search: {keep: 2.5}\n", "compare: {seeds: -1}\n", "bench: {batch: 1e9}\n", "x: 1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseConfig(text)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a configuration that does not validate: %v", err)
		}
		for name, st := range map[string]StageTrain{"base": c.Base.Train, "search": c.Search.Train, "finetune": c.Finetune.Train} {
			tc, err := st.TrainConfig(c, t.TempDir())
			if err != nil {
				continue
			}
			if err := tc.Validate(); err != nil {
				t.Fatalf("stage %s: TrainConfig gave an invalid configuration: %v", name, err)
			}
		}
	})
}
