package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dshrink/dshrink/internal/fsutil"
)

// Accum accumulates loss and accuracy over the batches of an epoch.
type Accum struct {
	LossSum  float64 `json:"loss_sum"` // sum over samples of the per-sample loss
	Correct1 int     `json:"correct1"`
	Correct5 int     `json:"correct5"`
	Count    int     `json:"count"`
	Seconds  float64 `json:"seconds"` // compute time of the batches (data waits included)
}

// Add records one batch of n samples with mean loss loss.
func (a *Accum) Add(loss float64, c1, c5, n int) {
	a.LossSum += loss * float64(n)
	a.Correct1 += c1
	a.Correct5 += c5
	a.Count += n
}

// Loss returns the mean loss per sample (0 with no samples).
func (a Accum) Loss() float64 {
	if a.Count == 0 {
		return 0
	}
	return a.LossSum / float64(a.Count)
}

// Top1 returns the top-1 accuracy in [0, 1].
func (a Accum) Top1() float64 {
	if a.Count == 0 {
		return 0
	}
	return float64(a.Correct1) / float64(a.Count)
}

// Top5 returns the top-5 accuracy in [0, 1].
func (a Accum) Top5() float64 {
	if a.Count == 0 {
		return 0
	}
	return float64(a.Correct5) / float64(a.Count)
}

// EvalResult is the result of evaluating a model on a data set.
type EvalResult struct {
	Loss      float64 `json:"loss"` // mean cross-entropy (no smoothing)
	Top1      float64 `json:"top1"`
	Top5      float64 `json:"top5"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	ImgPerSec float64 `json:"img_per_s"`
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch          int         `json:"epoch"` // 1-based
	Step           int         `json:"step"`  // optimiser steps done at the end of the epoch
	LR             float64     `json:"lr"`    // learning rate of the last step
	TrainLoss      float64     `json:"train_loss"`
	TrainTop1      float64     `json:"train_top1"`
	TrainTop5      float64     `json:"train_top5"`
	TrainImgPerSec float64     `json:"train_img_per_s"`
	EpochSeconds   float64     `json:"epoch_s"`
	Test           *EvalResult `json:"test,omitempty"` // held-out evaluation (validation or test split)
	PeakRSSMiB     float64     `json:"peak_rss_mib,omitempty"`
	// NonFinite names the numbers that were NaN or infinite (written as 0).
	NonFinite []string `json:"non_finite,omitempty"`
}

// TopK counts the rows of logits ([n, classes]) whose label is among the k
// highest scores (ties broken against the label: a class scoring the same
// as the label and coming earlier counts as higher). A NaN score counts as
// higher than any number, and a row whose label scores NaN is never correct,
// so a model with NaN outputs scores 0, not 100%.
func TopK(logits []float32, labels []int, classes, k int) int {
	correct := 0
	for i, y := range labels {
		row := logits[i*classes : (i+1)*classes]
		v := row[y]
		if v != v {
			continue
		}
		higher := 0
		for j, x := range row {
			if x > v || x != x || (x == v && j < y) {
				higher++
			}
		}
		if higher < k {
			correct++
		}
	}
	return correct
}

// writeMetrics writes history as metrics.jsonl, one EpochMetrics per line,
// atomically: the file always holds exactly the epochs of the last
// checkpoint or of the one being saved, never a duplicate after a resume.
func writeMetrics(path string, history []EpochMetrics) error {
	var buf []byte
	for _, em := range history {
		b, err := json.Marshal(finiteMetrics(em))
		if err != nil {
			return fmt.Errorf("encode metrics of epoch %d: %w", em.Epoch, err)
		}
		buf = append(append(buf, b...), '\n')
	}
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(buf)
		return err
	})
}

// PeakRSSMiB returns the process's peak resident memory (VmHWM of
// /proc/self/status) in MiB, or 0 where it is not available.
func PeakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb float64
	for _, line := range strings.Split(string(b), "\n") {
		if n, _ := fmt.Sscanf(line, "VmHWM: %f kB", &kb); n == 1 {
			return kb / 1024
		}
	}
	return 0
}
