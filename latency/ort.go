package latency

// ONNX Runtime as the timing backend of a latency table (ProfileOptions.Runtime
// "ort"): every candidate is exported to ONNX and timed, interleaved in one
// node process, by tools/ortbench/bench_ort.js with onnxruntime-node (CPU
// execution provider, graph optimisation 'all', one inter-op thread).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/onnx"
	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// Runtimes a table can be measured with (ProfileOptions.Runtime).
const (
	RuntimeOurs = "ours" // package runtime
	RuntimeORT  = "ort"  // ONNX Runtime (onnxruntime-node) through node
)

// ortSetup names what ORT tables need, for error messages.
const ortSetup = "ONNX Runtime tables need node and the npm package onnxruntime-node@1.30.0 in .cache/ort " +
	"(./scripts/setup.sh installs it; ORT_NPM_DIR names another npm directory, DSHRINK_ORT_BENCH the script tools/ortbench/bench_ort.js)"

// useORT reports whether name selects ONNX Runtime; "" is ours.
func useORT(name string) (bool, error) {
	switch strings.ToLower(name) {
	case "", RuntimeOurs:
		return false, nil
	case RuntimeORT, "onnxruntime":
		return true, nil
	}
	return false, fmt.Errorf("latency: runtime %q: want %s or %s", name, RuntimeOurs, RuntimeORT)
}

// ORT is a located ONNX Runtime installation.
type ORT struct {
	Node    string // node executable
	Script  string // tools/ortbench/bench_ort.js
	NpmDir  string // directory whose node_modules holds onnxruntime-node
	Version string // onnxruntime-node version, from its package.json
}

// FindORT locates node, the bench script and onnxruntime-node. The script is
// $DSHRINK_ORT_BENCH or tools/ortbench/bench_ort.js in a directory above
// the working directory or the executable; the npm directory is $ORT_NPM_DIR,
// the parent of $ORT_NODE_MODULES, or .cache/ort in the script's repository.
// The error says what to install.
func FindORT() (*ORT, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("latency: node not found in PATH: %s", ortSetup)
	}
	script := os.Getenv("DSHRINK_ORT_BENCH")
	if script == "" {
		script = findUp(filepath.Join("tools", "ortbench", "bench_ort.js"))
	}
	if script == "" {
		return nil, fmt.Errorf("latency: tools/ortbench/bench_ort.js not found above the working directory or the executable: %s", ortSetup)
	}
	if script, err = filepath.Abs(script); err != nil {
		return nil, err
	}
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("latency: %w: %s", err, ortSetup)
	}
	npm := os.Getenv("ORT_NPM_DIR")
	if npm == "" && os.Getenv("ORT_NODE_MODULES") != "" {
		npm = filepath.Dir(os.Getenv("ORT_NODE_MODULES"))
	}
	if npm == "" {
		npm = filepath.Join(filepath.Dir(script), "..", "..", ".cache", "ort")
	}
	if npm, err = filepath.Abs(npm); err != nil {
		return nil, err
	}
	b, err := fsutil.ReadFile(filepath.Join(npm, "node_modules", "onnxruntime-node", "package.json"), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("latency: onnxruntime-node not installed in %s: %s", npm, ortSetup)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version == "" {
		return nil, fmt.Errorf("latency: %s/node_modules/onnxruntime-node/package.json has no version (%v): %s", npm, err, ortSetup)
	}
	return &ORT{Node: node, Script: script, NpmDir: npm, Version: pkg.Version}, nil
}

// findUp returns rel in the working directory, the executable's directory,
// or a directory above either, or "".
func findUp(rel string) string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, d := range starts {
		for {
			p := filepath.Join(d, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	return ""
}

// Executor returns the executor name of tables measured with this ORT.
func (o *ORT) Executor() string { return "onnxruntime-" + o.Version }

// TableKey returns the key of a table of the model with fingerprint model
// measured with opts: CurrentKey for our runtime; for ONNX Runtime, the
// executor "onnxruntime-VERSION" and isolated timing (ORT has no per-step
// times, so there are no in-context entries). It fails when opts names ORT
// and ORT cannot be found.
func TableKey(model string, opts ProfileOptions) (Key, error) {
	o := opts.withDefaults()
	ort, err := useORT(o.Runtime)
	if err != nil {
		return Key{}, err
	}
	if !ort {
		k := CurrentKey(model, o.Batch, o.Threads, o.Isolated)
		k.LayerPruning = o.LayerPruning
		return k, nil
	}
	rt, err := FindORT()
	if err != nil {
		return Key{}, err
	}
	k := rt.key(model, o.Batch, o.Threads)
	k.LayerPruning = o.LayerPruning
	return k, nil
}

func (o *ORT) key(model string, batch, threads int) Key {
	return Key{CPU: CPUModel(), Runtime: "onnxruntime-node-" + o.Version + "/cpu-ep", Executor: o.Executor(),
		Batch: batch, Threads: threads, Model: model, Timing: "isolated"}
}

// ortModel is one ONNX file for the bench script.
type ortModel struct {
	name string
	data []byte
}

// bench times the models interleaved in one node process and returns each
// one's p50 and interquartile range over all its runs, in milliseconds.
func (o *ORT) bench(models []ortModel, opts ProfileOptions) (p50, iqr []float64, err error) {
	dir, err := os.MkdirTemp("", "dshrink-ort-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{o.Script, "--batch", fmt.Sprint(opts.Batch), "--threads", fmt.Sprint(opts.Threads),
		"--rounds", fmt.Sprint(opts.Rounds), "--iters", fmt.Sprint(opts.Iters), "--warmup", fmt.Sprint(opts.Warmup),
		"--json", filepath.Join(dir, "result.json")}
	index := map[string]int{}
	for i, m := range models {
		name := fmt.Sprintf("m%d", i)
		file := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(file, m.data, 0o644); err != nil {
			return nil, nil, err
		}
		args = append(args, name+"="+file)
		index[name] = i
	}
	cmd := exec.Command(o.Node, args...)
	cmd.Env = append(os.Environ(), "ORT_NPM_DIR="+o.NpmDir)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	fmt.Fprintf(opts.Log, "profile: ONNX Runtime %s: %d models, %d rounds x %d runs each (node %s)\n", o.Version, len(models), opts.Rounds, opts.Iters, o.Script)
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("latency: ONNX Runtime (%s): %w\n%s", o.Script, err, strings.TrimSpace(stderr.String()))
	}
	fmt.Fprintf(opts.Log, "profile: ONNX Runtime done (%.1fs)\n", time.Since(t0).Seconds())
	b, err := fsutil.ReadFile(filepath.Join(dir, "result.json"), maxTableBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("latency: ONNX Runtime wrote no results: %w", err)
	}
	var res struct {
		Results []struct {
			Model string  `json:"model"`
			P50   float64 `json:"p50_ms"`
			P25   float64 `json:"p25_ms"`
			P75   float64 `json:"p75_ms"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, nil, fmt.Errorf("latency: ONNX Runtime results: %w", err)
	}
	p50, iqr = make([]float64, len(models)), make([]float64, len(models))
	seen := 0
	for _, r := range res.Results {
		i, ok := index[r.Model]
		if !ok {
			continue
		}
		if !(r.P50 > 0) || math.IsInf(r.P50, 0) {
			return nil, nil, fmt.Errorf("latency: ONNX Runtime: %s has latency %g", models[i].name, r.P50)
		}
		p50[i], iqr[i] = r.P50, max(0, r.P75-r.P25)
		seen++
	}
	if seen != len(models) {
		return nil, nil, fmt.Errorf("latency: ONNX Runtime timed %d of %d models", seen, len(models))
	}
	return p50, iqr, nil
}

// exportORT returns g as ONNX for timing: the carrier step (see subgraph)
// removed, since ONNX Runtime reads its input in place, and the batch fixed.
func exportORT(g *graph.Graph, batch int) ([]byte, error) {
	g = withoutCarrier(g)
	b, err := onnx.Export(g, onnx.ExportOptions{Batch: batch, NoStructure: true})
	if err != nil {
		return nil, fmt.Errorf("latency: ONNX export: %w", err)
	}
	return b, nil
}

// withoutCarrier returns g without its carrier step (g itself when it has
// none); nodes and blocks that read the carrier read the input.
func withoutCarrier(g *graph.Graph) *graph.Graph {
	if g.Node(carrierName) == nil {
		return g
	}
	cp := *g
	cp.Nodes = nil
	ren := func(v string) string {
		if v == carrierName {
			return g.Input.Name
		}
		return v
	}
	for _, n := range g.Nodes {
		if n.Name == carrierName {
			continue
		}
		m := *n
		m.Inputs = make([]string, len(n.Inputs))
		for i, v := range n.Inputs {
			m.Inputs[i] = ren(v)
		}
		cp.Nodes = append(cp.Nodes, &m)
	}
	cp.Blocks = make([]graph.Block, len(g.Blocks))
	for i, b := range g.Blocks {
		b.Input = ren(b.Input)
		cp.Blocks[i] = b
	}
	cp.Output = ren(g.Output)
	return &cp
}

// overheadModel returns an ONNX model with the input and output of the
// exported model m that computes nothing: its output is a constant
// (ConstantOfShape, folded by ORT). Its latency is the cost of a session
// run apart from the segment's work: the call from JavaScript, the output
// allocation and its copy into a JavaScript array.
func overheadModel(m []byte) ([]byte, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(m, mp); err != nil {
		return nil, err
	}
	gp := mp.Graph
	if len(gp.Output) != 1 {
		return nil, fmt.Errorf("latency: overhead model: %d outputs", len(gp.Output))
	}
	out := gp.Output[0]
	var dims []int64
	for _, d := range out.GetType().GetTensorType().GetShape().GetDim() {
		dims = append(dims, d.GetDimValue())
	}
	shape := &onnxpb.TensorProto{Name: proto.String("overhead.shape"), Dims: []int64{int64(len(dims))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: dims}
	gp.Name = proto.String(gp.GetName() + ".overhead")
	gp.Initializer = []*onnxpb.TensorProto{shape}
	gp.ValueInfo = nil
	gp.Node = []*onnxpb.NodeProto{{Name: proto.String("overhead"), OpType: proto.String("ConstantOfShape"),
		Input: []string{"overhead.shape"}, Output: []string{out.GetName()}}}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// profileORT fills t (with its fixed parts and segments wired to cands) from
// ONNX Runtime timings. Every candidate and the whole model are exported
// and timed interleaved; so is, for every distinct input and output shape,
// an overhead model (see overheadModel). An entry is the candidate's p50
// less its overhead's p50 (at least 1% of the p50), and the fixed part that
// produces the model's output (or else the first) is charged the whole
// model's overhead once, so that the base prediction is comparable with the
// whole model's latency. IsolatedMs keeps the p50 with the overhead.
func profileORT(g *graph.Graph, t *Table, cands []*candidate, opts ProfileOptions) (*Table, error) {
	rt, err := FindORT()
	if err != nil {
		return nil, err
	}
	t.Key = rt.key(t.Key.Model, opts.Batch, opts.Threads)
	t.Key.LayerPruning = opts.LayerPruning
	// models: the candidates, the whole model, then one overhead model per
	// distinct input and output signature.
	var models, overs []ortModel
	over := map[string]int{} // overhead model index by signature
	overOf := make([]int, 0, len(cands)+1)
	add := func(cg *graph.Graph) error {
		b, err := exportORT(cg, opts.Batch)
		if err != nil {
			return err
		}
		models = append(models, ortModel{name: cg.Name, data: b})
		ob, err := overheadModel(b)
		if err != nil {
			return fmt.Errorf("latency: %s: %w", cg.Name, err)
		}
		sig, err := ioSignature(ob)
		if err != nil {
			return err
		}
		k, ok := over[sig]
		if !ok {
			k = len(overs)
			over[sig] = k
			overs = append(overs, ortModel{name: cg.Name + ".overhead", data: ob})
		}
		overOf = append(overOf, k)
		return nil
	}
	for _, cd := range cands {
		if err := add(cd.g); err != nil {
			return nil, err
		}
	}
	if err := add(g); err != nil {
		return nil, err
	}
	n := len(models)
	models = append(models, overs...)
	fmt.Fprintf(opts.Log, "profile: %d blocks, %d segments, %d fixed parts, whole model and %d overhead models, timed with ONNX Runtime %s\n",
		len(t.Blocks), len(t.Segments), len(t.Fixed), len(overs), rt.Version)
	p50, iqr, err := rt.bench(models, opts)
	if err != nil {
		return nil, err
	}
	clamped := 0
	net := func(ci int) (raw, ms float64) {
		raw = p50[ci]
		ms = raw - p50[n+overOf[ci]]
		if ms < 0.01*raw {
			clamped++
			ms = 0.01 * raw
		}
		return raw, ms
	}
	charge := -1 // fixed part charged the whole model's overhead
	for ci, cd := range cands {
		if cd.part != nil && (charge < 0 || cd.g.Output == g.Output) {
			charge = ci
		}
	}
	wholeOver := p50[n+overOf[len(cands)]]
	for ci, cd := range cands {
		raw, ms := net(ci)
		switch {
		case cd.seg != nil:
			cd.seg.Ms, cd.seg.Spread, cd.seg.IsolatedMs = ms, iqr[ci], raw
			cd.seg.Note = strings.TrimSpace(cd.seg.Note + fmt.Sprintf("; ONNX Runtime p50 %.4f ms less the run overhead", raw))
			cd.seg.Note = strings.TrimPrefix(cd.seg.Note, "; ")
		case cd.part != nil:
			if ci == charge {
				ms += wholeOver
			}
			cd.part.Ms, cd.part.Spread, cd.part.IsolatedMs = ms, iqr[ci], raw
		}
	}
	if clamped > 0 {
		fmt.Fprintf(opts.Log, "profile: %d entries ran within their run overhead (noise); set to 1%% of their p50 (more --rounds may help)\n", clamped)
	}
	t.WholeMs = p50[len(cands)]
	// ORT has no per-step times: the whole model's run stands in for the sum
	// of its steps, so Calibration is WholeMs / BaseMs.
	t.WholeStepsMs = t.WholeMs
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// ioSignature returns the input and output names and shapes of an ONNX model.
func ioSignature(m []byte) (string, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(m, mp); err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, vs := range [][]*onnxpb.ValueInfoProto{mp.Graph.Input, mp.Graph.Output} {
		for _, v := range vs {
			fmt.Fprintf(&sb, "%s:", v.GetName())
			for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
				fmt.Fprintf(&sb, "%d,", d.GetDimValue())
			}
			sb.WriteString(";")
		}
		sb.WriteString("|")
	}
	return sb.String(), nil
}

// measureORT is Measure with ONNX Runtime: RunMs and StepsMs are both the p50.
func measureORT(gs []*graph.Graph, opts ProfileOptions) ([]Timing, error) {
	rt, err := FindORT()
	if err != nil {
		return nil, err
	}
	models := make([]ortModel, len(gs))
	for i, g := range gs {
		b, err := exportORT(g, opts.Batch)
		if err != nil {
			return nil, err
		}
		models[i] = ortModel{name: g.Name, data: b}
	}
	p50, _, err := rt.bench(models, opts)
	if err != nil {
		return nil, err
	}
	out := make([]Timing, len(gs))
	for i := range out {
		out[i] = Timing{RunMs: p50[i], StepsMs: p50[i]}
	}
	return out, nil
}
