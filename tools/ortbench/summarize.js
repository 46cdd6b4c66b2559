// Summarises a run.sh results folder: for each model, batch and thread count,
// the median over rounds of dshrink's and ONNX Runtime's p50 latency, the
// ratio ours/ORT, and each runtime's speedup of every model over the first.
// Usage: node summarize.js RESULTS_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
if (!dir) { console.error('usage: node summarize.js RESULTS_DIR'); process.exit(1); }
const rows = {}; // key model|batch|threads -> {ours: [], ort: []}
const order = [];
for (const f of fs.readdirSync(dir).sort()) {
  const m = /^(ours|ort)_r\d+_t\d+_b\d+\.json$/.exec(f);
  if (!m) continue;
  const j = JSON.parse(fs.readFileSync(path.join(dir, f)));
  for (const r of j.results) {
    const k = `${r.model}|${r.batch}|${r.threads}`;
    if (!rows[k]) { rows[k] = { model: r.model, batch: r.batch, threads: r.threads, ours: [], ort: [] }; order.push(k); }
    rows[k][m[1]].push(r.p50_ms);
  }
}
const med = (a) => { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const models = [...new Set(order.map((k) => rows[k].model))];
const configs = [...new Set(order.map((k) => `${rows[k].batch}|${rows[k].threads}`))].sort((a, b) => {
  const [ba, ta] = a.split('|').map(Number); const [bb, tb] = b.split('|').map(Number); return ta - tb || ba - bb;
});
console.log('| model | batch | threads | dshrink p50 ms | ORT p50 ms | dshrink/ORT | dshrink speedup vs ' + models[0] + ' | ORT speedup vs ' + models[0] + ' | rounds |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const c of configs) {
  const [b, t] = c.split('|');
  const base = rows[`${models[0]}|${b}|${t}`];
  for (const m of models) {
    const r = rows[`${m}|${b}|${t}`];
    if (!r) continue;
    const o = med(r.ours); const x = med(r.ort);
    const so = med(base.ours) / o; const sx = med(base.ort) / x;
    console.log(`| ${m} | ${b} | ${t} | ${o.toFixed(2)} | ${x.toFixed(2)} | ${(o / x).toFixed(2)}x | ${so.toFixed(2)}x | ${sx.toFixed(2)}x | ${Math.min(r.ours.length, r.ort.length)} |`);
  }
}
