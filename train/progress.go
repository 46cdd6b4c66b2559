package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows the training progress: a live bar (loss, accuracy, img/s,
// ETA) on a terminal, a plain line every tenth of an epoch otherwise, and
// nothing when quiet.
type progress struct {
	w       io.Writer
	quiet   bool
	tty     bool
	bar     *progressbar.ProgressBar
	epoch   int
	epochs  int
	total   int
	first   int
	began   time.Time
	lastLog int
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) start(epoch, epochs, total, first int) {
	if p.quiet {
		return
	}
	p.epoch, p.epochs, p.total, p.first = epoch, epochs, total, first
	p.began = time.Now()
	p.lastLog = first
	if p.tty {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.Set(first)
	}
}

func (p *progress) update(step int, a Accum) {
	if p.quiet {
		return
	}
	done := step - p.first
	el := time.Since(p.began).Seconds()
	ips := 0.0
	if a.Seconds > 0 {
		ips = float64(a.Count) / a.Seconds
	}
	if p.tty {
		p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.2f%% %.0f img/s", p.epoch, p.epochs, a.Loss(), 100*a.Top1(), ips))
		_ = p.bar.Set(step)
		return
	}
	every := max(p.total/10, 1)
	if step-p.lastLog >= every || step == p.total {
		p.lastLog = step
		eta := 0.0
		if done > 0 {
			eta = el / float64(done) * float64(p.total-step)
		}
		fmt.Fprintf(p.w, "epoch %d/%d step %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %s\n",
			p.epoch, p.epochs, step, p.total, a.Loss(), 100*a.Top1(), ips, time.Duration(eta*float64(time.Second)).Round(time.Second))
	}
}

func (p *progress) finish() {
	if p.quiet || p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	p.bar = nil
}

func (p *progress) abort() {
	if p.quiet || p.bar == nil {
		return
	}
	_ = p.bar.Exit()
	fmt.Fprintln(p.w)
	p.bar = nil
}

func (p *progress) epochLine(m EpochMetrics, evalName string) {
	if p.quiet {
		return
	}
	s := fmt.Sprintf("epoch %d/%d: train loss %.4f top1 %.2f%% top5 %.2f%%, %.0f img/s, %.1fs",
		m.Epoch, p.epochs, m.TrainLoss, 100*m.TrainTop1, 100*m.TrainTop5, m.TrainImgPerSec, m.EpochSeconds)
	if m.Test != nil {
		s += fmt.Sprintf("; %s loss %.4f top1 %.2f%% top5 %.2f%%", evalName, m.Test.Loss, 100*m.Test.Top1, 100*m.Test.Top5)
	}
	fmt.Fprintln(p.w, s)
}
