// Runs an ONNX model in ONNX Runtime (onnxruntime-node) on a raw float32
// input and writes the raw float32 output; used by the tests of package onnx.
//
//   node tools/ort/run_ort.js MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin
//
// The package is looked up from ORT_NODE_MODULES (a node_modules directory),
// else from .cache/ort/node_modules at the repository root, else the default
// resolution. Prints the output shape on stdout.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const dirs = [];
  if (process.env.ORT_NODE_MODULES) dirs.push(process.env.ORT_NODE_MODULES);
  dirs.push(path.join(__dirname, '..', '..', '.cache', 'ort', 'node_modules'));
  for (const d of dirs) {
    const p = path.join(d, 'onnxruntime-node');
    if (fs.existsSync(p)) return require(p);
  }
  return require('onnxruntime-node');
}

async function main() {
  const [model, input, shapeArg, output] = process.argv.slice(2);
  if (!output) {
    console.error('usage: node run_ort.js MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin');
    process.exit(2);
  }
  const ort = loadOrt();
  const shape = shapeArg.split(',').map(Number);
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', data, shape);
  const res = await session.run(feeds);
  const out = res[session.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(JSON.stringify({ version: ort.env.versions ? ort.env.versions.common : '', dims: out.dims }));
}

main().catch((e) => { console.error(e); process.exit(1); });
