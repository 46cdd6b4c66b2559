package yamlstrict

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Workers int     `yaml:"workers"`
	Ratio   float64 `yaml:"ratio"`
}

type config struct {
	BatchSize int           `yaml:"batch_size"`
	Data      inner         `yaml:"data"`
	Sizes     []int         `yaml:"sizes"`
	Wait      time.Duration `yaml:"wait"`
	Ptr       *inner        `yaml:"ptr"`
}

func TestDecode(t *testing.T) {
	var c config
	if err := Decode([]byte("batch_size: 3\ndata: {workers: 2, ratio: 1.5}\nsizes: [1, 2]\nwait: 5s\nptr: {workers: 1}\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 3 || c.Data.Workers != 2 || c.Data.Ratio != 1.5 || len(c.Sizes) != 2 || c.Wait != 5*time.Second || c.Ptr.Workers != 1 {
		t.Errorf("decoded %+v", c)
	}
	for text, want := range map[string]string{
		"batch_size: 1.5\n":          "line 1: batch_size: 1.5 is not an integer",
		"data:\n  workers: 2.0\n":    "line 2: data.workers: 2.0 is not an integer",
		"sizes: [1, 2.5]\n":          "sizes[1]: 2.5",
		"ptr: {workers: 1e3}\n":      "ptr.workers: 1e3",
		"batchsize: 3\n":             "batchsize",
		"batch_size: 3\n---\nx: 1\n": "second YAML document",
		"batch_size: [\n":            "line",
	} {
		var c config
		err := Decode([]byte(text), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", text, err, want)
		}
	}
	var empty config
	if err := Decode(nil, &empty); err != nil {
		t.Errorf("empty text: %v", err)
	}
}
