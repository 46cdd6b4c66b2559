// ONNX Runtime (onnxruntime-node 1.30, CPU EP) latency of ONNX files, for the
// side-by-side comparison with dshrink's runtime (see run.sh).
//
// Usage: node bench_ort.js [--batch 1,16] [--threads 1,2] [--rounds 10]
//          [--iters 5] [--warmup 5] [--json out.json] NAME=FILE_b{B}.onnx ...
// "{B}" in a file name is replaced by the batch size. The models are run
// interleaved (round-robin, rotating the first model every round), with
// graph optimisation 'all', one inter-op thread and the memory arena on, as
// in the peers' bench_ort.js. The input is x[i] = sin(0.001*i), the
// same as `dshrink bench` and the peers' export script; when FILE.ref.bin
// exists next to a model, the output is checked against it.
// `dshrink profile --runtime ort` (package latency, ort.go) times table segments
// with this script and reads p25_ms/p50_ms/p75_ms from its JSON.
// ORT comes from $ORT_NPM_DIR (default .cache/ort): `npm install onnxruntime-node@1.30.0`.
'use strict';
const fs = require('fs');
const path = require('path');

const npmDir = path.resolve(process.env.ORT_NPM_DIR || '.cache/ort');
const ort = require(require.resolve('onnxruntime-node', { paths: [npmDir] }));
const ortVersion = JSON.parse(fs.readFileSync(path.join(npmDir, 'node_modules/onnxruntime-node/package.json'))).version;

function parseArgs(argv) {
  const o = { batch: [1], threads: [1], rounds: 10, iters: 5, warmup: 5, json: '', models: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    const ints = (s) => s.split(',').map((v) => { const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new Error(`bad number ${v}`); return n; });
    switch (a) {
      case '--batch': o.batch = ints(val()); break;
      case '--threads': o.threads = ints(val()); break;
      case '--rounds': o.rounds = ints(val())[0]; break;
      case '--iters': o.iters = ints(val())[0]; break;
      case '--warmup': o.warmup = Number(val()); break;
      case '--json': o.json = val(); break;
      default: {
        const eq = a.indexOf('=');
        if (a.startsWith('--') || eq < 1) throw new Error(`unknown argument ${a} (want NAME=FILE)`);
        o.models.push({ name: a.slice(0, eq), file: a.slice(eq + 1) });
      }
    }
  }
  if (o.models.length === 0) throw new Error('no models given');
  return o;
}

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]; }

function input(b, shape) {
  const n = b * shape.reduce((x, y) => x * y, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sin(i * 0.001);
  return new ort.Tensor('float32', d, [b, ...shape]);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const results = [];
  for (const nt of o.threads) {
    for (const b of o.batch) {
      const sess = []; const feeds = [];
      for (const m of o.models) {
        const file = m.file.replace('{B}', String(b));
        const s = await ort.InferenceSession.create(file, {
          executionProviders: ['cpu'], intraOpNumThreads: nt, interOpNumThreads: 1,
          graphOptimizationLevel: 'all', executionMode: 'sequential', enableCpuMemArena: true,
        });
        const meta = s.inputMetadata ? s.inputMetadata[0] : null;
        const shape = meta && meta.shape ? meta.shape.slice(1).map(Number) : [3, 224, 224];
        const feed = { [s.inputNames[0]]: input(b, shape) };
        const out = await s.run(feed);
        const ref = file.replace(/\.onnx$/, '.ref.bin');
        if (fs.existsSync(ref)) {
          const rb = fs.readFileSync(ref);
          const r = new Float32Array(rb.buffer.slice(rb.byteOffset, rb.byteOffset + rb.length));
          const y = out[s.outputNames[0]].data;
          let err = 0; let mx = 0;
          for (let i = 0; i < r.length; i++) { err = Math.max(err, Math.abs(y[i] - r[i])); mx = Math.max(mx, Math.abs(r[i])); }
          console.error(`check ${m.name} b${b}: max|ort-ref| ${err.toExponential(2)} (max|ref| ${mx.toExponential(2)})`);
        }
        for (let i = 0; i < o.warmup; i++) await s.run(feed);
        sess.push(s); feeds.push(feed);
      }
      const times = o.models.map(() => []);
      for (let r = 0; r < o.rounds; r++) {
        for (let j = 0; j < o.models.length; j++) {
          const i = (j + r) % o.models.length;
          for (let k = 0; k < o.iters; k++) {
            const t0 = process.hrtime.bigint();
            await sess[i].run(feeds[i]);
            times[i].push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }
      }
      let base = 0;
      o.models.forEach((m, i) => {
        const t = times[i].sort((x, y) => x - y);
        const mean = t.reduce((x, y) => x + y, 0) / t.length;
        const r = { model: m.name, file: m.file.replace('{B}', String(b)), batch: b, threads: nt, runs: t.length,
          p25_ms: pct(t, 0.25), p50_ms: pct(t, 0.5), p75_ms: pct(t, 0.75), p90_ms: pct(t, 0.9), p99_ms: pct(t, 0.99), mean_ms: mean, min_ms: t[0], img_per_s: b / (mean / 1e3) };
        if (i === 0) base = r.p50_ms;
        r.speedup_vs_first = base / r.p50_ms;
        results.push(r);
        console.log(`ort ${m.name.padEnd(12)} b${String(b).padStart(2)} t${nt} p50 ${r.p50_ms.toFixed(3).padStart(9)} ms  p90 ${r.p90_ms.toFixed(3).padStart(9)}  p99 ${r.p99_ms.toFixed(3).padStart(9)}  ${r.img_per_s.toFixed(1).padStart(8)} img/s  speedup ${r.speedup_vs_first.toFixed(2)}x`);
      });
      for (const s of sess) await s.release();
    }
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ runtime: `onnxruntime-node ${ortVersion}`, node: process.version, results }, null, 1));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
