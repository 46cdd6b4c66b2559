package train

import (
	"os"
	"testing"
)

// FuzzParseConfig feeds arbitrary YAML to the training configuration
// reader: an error is fine, a panic is not, and a configuration it accepts
// must validate.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../configs/fmnist-mbv2-0.5.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"batch_size: 1.5\n", "epochs: 3\n---\nepochs: 4\n", "data:\n  workers: 1000000\n",
		"lr: .nan\n", "optimizer: {name: adamw, betas: [0.9, 0.999]}\n", "a: &x [*x]\n",
		"schedule: {name: step, milestones: [1, 2.5]}\n",
	} {
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
	})
}
