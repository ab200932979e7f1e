// Benchmark `matmul-transpose`: the wasm backend's products with transpose
// flags, with and without tfjs-variational's fast products
// (src/perf/fast_wasm_kernels.ts), measured in the same process, interleaved.
//
//   1. GFLOP/s of matMul for 256×784 by 784×512: plain, transposeA (a stored
//      as 784×256), transposeB (b stored as 512×784); and of the two
//      transposed products in the backward pass of a 784→512 Dense layer on a
//      batch of 256 (dW = xᵀ·dy, dx = dy·Wᵀ).
//   2. The other kernels around them in training: `GatherV2` of a 256-row
//      batch (what model.fit does to its inputs and targets every step) and
//      `Slice` of a 256-row batch, both from a 10,000×784 data set; a
//      transpose of 512×784, the sum over the batch of 256×784 (a bias
//      gradient), softplus of 256×784, identity of 784×512, and one Adam
//      update of a 784×512 and a 512×784 weight.
//   3. One training step (`model.fit` on one batch of 256) of a
//      784-512-2-512-784 Dense autoencoder (relu hidden layers, MSE, Adam).
//
// Every figure is reported as a ratio (fast / original) of medians over
// `repeats` interleaved runs.
//
//   node bench/matmul_transpose.mjs [--repeats=5]     (standalone, prints markdown)
//   node bench/run.mjs matmul-transpose                (writes bench/results.md)

import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {median} from './stats.mjs';

export const name = 'matmul-transpose';
export const title = 'wasm matMul with transpose flags, batch gather/slice and one autoencoder training step, with and without the fast kernels';

const BATCH = 256;
const ORIGINAL_DIM = 784;
const HIDDEN = 512;
const LATENT = 2;
/** Targets: transposed products at least this much faster, the training step at least this much. */
const TARGET_PRODUCT_SPEEDUP = 4;
const TARGET_STEP_SPEEDUP = 2;
/** Training steps per timed fit call (one epoch = one batch). */
const STEPS_PER_RUN = 4;

/** A deterministic tensor with values in [-1, 1) (or [0, 1) when `unit`). */
function filled(tf, shape, seed, unit = false) {
  const n = shape.reduce((p, d) => p * d, 1);
  const v = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = unit ? s / 2 ** 32 : s / 2 ** 31 - 1;
  }
  return tf.tensor(v, shape);
}

/**
 * Products to time. `fresh` gives the right operand a new tensor for every call,
 * as in training where the weights change every step (XNNPACK keeps a packed
 * copy of a right operand it has seen, keyed by tensor).
 */
function productCases(tf) {
  const M = BATCH;
  const K = ORIGINAL_DIM;
  const N = HIDDEN;
  const flops = 2 * M * K * N;
  return [
    {id: 'plain', label: `plain ${M}×${K}·${K}×${N}, same b every call`, flops,
      make: () => [filled(tf, [M, K], 1), filled(tf, [K, N], 2)], run: (a, b) => tf.matMul(a, b)},
    {id: 'plain-fresh', label: `plain ${M}×${K}·${K}×${N}, new b every call`, flops, fresh: true,
      make: () => [filled(tf, [M, K], 1), filled(tf, [K, N], 2)], run: (a, b) => tf.matMul(a, b)},
    {id: 'transposeA', label: `transposeA (a stored ${K}×${M})`, flops, fresh: true,
      make: () => [filled(tf, [K, M], 3), filled(tf, [K, N], 2)], run: (a, b) => tf.matMul(a, b, true, false)},
    {id: 'transposeB', label: `transposeB (b stored ${N}×${K})`, flops, fresh: true,
      make: () => [filled(tf, [M, K], 1), filled(tf, [N, K], 4)], run: (a, b) => tf.matMul(a, b, false, true)},
    {id: 'dW', label: `Dense ${K}→${N} backward dW = xᵀ·dy (${K}×${M}·${M}×${N})`, flops, fresh: true,
      make: () => [filled(tf, [M, K], 5), filled(tf, [M, N], 6)], run: (x, dy) => tf.matMul(x, dy, true, false)},
    {id: 'dx', label: `Dense ${K}→${N} backward dx = dy·Wᵀ (${M}×${N}·${N}×${K})`, flops, fresh: true,
      make: () => [filled(tf, [M, N], 6), filled(tf, [K, N], 7)], run: (dy, w) => tf.matMul(dy, w, false, true)},
  ];
}

/**
 * Other kernels on the training path: a 256-row batch out of a 10,000×784 data
 * set (data movement), and the transposes, bias-gradient sums, softplus,
 * identity/cast and Adam updates of the VAE's step.
 */
function copyCases(tf) {
  const rows = 10000;
  const indices = tf.tensor1d(Array.from({length: BATCH}, (_, i) => (i * 7919) % rows), 'int32');
  const adamVariables = [filled(tf, [ORIGINAL_DIM, HIDDEN], 12), filled(tf, [HIDDEN, ORIGINAL_DIM], 13)]
      .map((t, i) => tf.variable(t, true, `bench_adam_${i}`));
  const adamGradients = [filled(tf, [ORIGINAL_DIM, HIDDEN], 14), filled(tf, [HIDDEN, ORIGINAL_DIM], 15)];
  const adam = tf.train.adam(1e-3);
  return [
    {id: 'gather', label: `gather ${BATCH} rows of ${rows}×${ORIGINAL_DIM} (model.fit's batch)`,
      make: () => [filled(tf, [rows, ORIGINAL_DIM], 9), indices], run: (x, i) => tf.gather(x, i)},
    {id: 'slice', label: `slice ${BATCH} rows of ${rows}×${ORIGINAL_DIM}`,
      make: () => [filled(tf, [rows, ORIGINAL_DIM], 9)], run: (x) => tf.slice(x, [BATCH, 0], [BATCH, ORIGINAL_DIM])},
    {id: 'transpose', label: `transpose ${HIDDEN}×${ORIGINAL_DIM}`,
      make: () => [filled(tf, [HIDDEN, ORIGINAL_DIM], 10)], run: (x) => tf.transpose(x)},
    {id: 'sum0', label: `sum over the batch of ${BATCH}×${ORIGINAL_DIM} (a bias gradient)`,
      make: () => [filled(tf, [BATCH, ORIGINAL_DIM], 11)], run: (x) => tf.sum(x, 0)},
    {id: 'softplus', label: `softplus of ${BATCH}×${ORIGINAL_DIM} (a Bernoulli likelihood's cost)`,
      make: () => [tf.mul(filled(tf, [BATCH, ORIGINAL_DIM], 16), 8)], run: (x) => tf.softplus(x)},
    {id: 'identity', label: `identity (tf.clone) of ${ORIGINAL_DIM}×${HIDDEN}`,
      make: () => [filled(tf, [ORIGINAL_DIM, HIDDEN], 17)], run: (x) => tf.clone(x)},
    {id: 'adam', label: `Adam update of ${ORIGINAL_DIM}×${HIDDEN} and ${HIDDEN}×${ORIGINAL_DIM} weights`,
      make: () => [...adamVariables, ...adamGradients],
      run: (v0, v1, g0, g1) => {
        adam.applyGradients({[v0.name]: g0, [v1.name]: g1});
        return null;
      },
      dispose: () => adam.dispose()},
  ];
}

/** Milliseconds per call of one product, `calls` calls (untimed: making fresh operands). */
function timeProduct(tf, c, operands, calls) {
  let ms = 0;
  for (let i = 0; i < calls; i++) {
    const b = c.fresh ? tf.add(operands[1], 0) : operands[1];
    const t0 = performance.now();
    const out = c.run(operands[0], b, ...operands.slice(2));
    ms += performance.now() - t0;
    if (out != null) out.dispose();
    if (c.fresh) b.dispose();
  }
  return ms / calls;
}

function buildAutoencoder(tf, tfl) {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({inputShape: [ORIGINAL_DIM], units: HIDDEN, activation: 'relu'}),
      tfl.layers.dense({units: LATENT}),
      tfl.layers.dense({units: HIDDEN, activation: 'relu'}),
      tfl.layers.dense({units: ORIGINAL_DIM}),
    ],
  });
  model.compile({optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError'});
  return model;
}

/**
 * FLOPs of one training step: forward 2·B·Σ in·out, dW the same, dx the same
 * minus the first layer (the input needs no gradient).
 */
const STEP_FLOPS = (() => {
  const layers = [[ORIGINAL_DIM, HIDDEN], [HIDDEN, LATENT], [LATENT, HIDDEN], [HIDDEN, ORIGINAL_DIM]];
  const macs = layers.reduce((s, [i, o]) => s + i * o, 0);
  return 2 * BATCH * (3 * macs - ORIGINAL_DIM * HIDDEN);
})();

async function timeSteps(model, x) {
  const t0 = performance.now();
  const history = await model.fit(x, x, {batchSize: BATCH, epochs: STEPS_PER_RUN, shuffle: false, verbose: 0});
  const ms = (performance.now() - t0) / STEPS_PER_RUN;
  return {ms, loss: history.history.loss[history.history.loss.length - 1]};
}

const f1 = (v) => v.toFixed(1);
const f2 = (v) => v.toFixed(2);

export async function run(ctx = {}) {
  const log = ctx.log ?? ((line) => console.log(line));
  const tf = ctx.tf ?? await import('@tensorflow/tfjs-core');
  const tfl = ctx.tfl ?? await import('@tensorflow/tfjs-layers');
  const tfv = ctx.tfv ?? await loadLibrary();
  const repeats = ctx.repeats ?? 5;
  if (typeof tfv.enableFastWasmKernels !== 'function') {
    throw new Error('the tfjs-variational build has no enableFastWasmKernels: rebuild dist (npm run build)');
  }
  if (ctx.backends && !ctx.backends.includes('wasm')) {
    return {ok: true, rows: [], markdown: 'Skipped: the fast kernels act on the wasm backend only, which was not selected.'};
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('backend \'wasm\' could not be initialised');
  await tf.ready();
  const wasEnabled = tfv.isFastWasmKernelsEnabled();
  const setFast = (on) => (on ? tfv.enableFastWasmKernels() : tfv.disableFastWasmKernels());
  const modes = [false, true];
  const rows = [];
  try {
    // 1. Products.
    const cases = [...productCases(tf), ...copyCases(tf)];
    const times = new Map(cases.map((c) => [c.id, {false: [], true: []}]));
    const operands = new Map(cases.map((c) => [c.id, c.make()]));
    const calls = (on, c) => (on || !['transposeA', 'transposeB', 'dW', 'dx'].includes(c.id) ? 10 : 2);
    for (const on of modes) {  // warm-up: XNNPACK operators, wasm heap growth
      setFast(on);
      for (const c of cases) timeProduct(tf, c, operands.get(c.id), 1);
    }
    for (let r = 0; r < repeats; r++) {
      const order = r % 2 === 0 ? modes : [...modes].reverse();
      for (const on of order) {
        setFast(on);
        for (const c of cases) times.get(c.id)[on].push(timeProduct(tf, c, operands.get(c.id), calls(on, c)));
      }
      log(`  [products] repeat ${r + 1}/${repeats} done`);
    }
    const seen = new Set();  // operands shared between cases are disposed once
    for (const ops of operands.values()) tf.dispose(ops.filter((t) => !seen.has(t) && seen.add(t)));
    for (const c of cases) if (c.dispose) c.dispose();
    const plainMs = median(times.get('plain').true);
    for (const c of cases) {
      const off = median(times.get(c.id).false);
      const on = median(times.get(c.id).true);
      rows.push(c.flops == null ? {kind: 'copy', id: c.id, label: c.label, offMs: off, onMs: on, speedup: off / on} :
        {kind: 'product', id: c.id, label: c.label, offMs: off, onMs: on,
          offGflops: c.flops / off / 1e6, onGflops: c.flops / on / 1e6, speedup: off / on, vsPlain: plainMs / on});
    }

    // 2. Training step.
    const model = buildAutoencoder(tf, tfl);
    const x = filled(tf, [BATCH, ORIGINAL_DIM], 8, true);
    const steps = {false: [], true: []};
    const losses = {false: [], true: []};
    for (const on of modes) {
      setFast(on);
      await timeSteps(model, x);
    }
    const tensorsBefore = tf.memory().numTensors;
    for (let r = 0; r < repeats; r++) {
      const order = r % 2 === 0 ? modes : [...modes].reverse();
      for (const on of order) {
        setFast(on);
        const {ms, loss} = await timeSteps(model, x);
        steps[on].push(ms);
        losses[on].push(loss);
        log(`  [training step] repeat ${r + 1}/${repeats} fast ${on ? 'on ' : 'off'} ${ms.toFixed(1).padStart(7)} ms  loss ${loss.toFixed(4)}`);
      }
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    model.optimizer.dispose();
    model.dispose();
    x.dispose();
    const off = median(steps.false);
    const on = median(steps.true);
    const plainGflops = rows.find((row) => row.id === 'plain').onGflops;
    const plainFreshGflops = rows.find((row) => row.id === 'plain-fresh').onGflops;
    rows.push({kind: 'step', id: 'autoencoder-step', label: `784-512-2-512-784 autoencoder, model.fit step, batch ${BATCH}`,
      offMs: off, onMs: on, offGflops: STEP_FLOPS / off / 1e6, onGflops: STEP_FLOPS / on / 1e6, speedup: off / on,
      vsPlain: (STEP_FLOPS / on / 1e6) / plainGflops, vsPlainFresh: (STEP_FLOPS / on / 1e6) / plainFreshGflops,
      leakedTensors: leaked});
  } finally {
    setFast(wasEnabled);
  }

  const products = rows.filter((row) => row.kind === 'product');
  const step = rows.find((row) => row.kind === 'step');
  const transposed = products.filter((row) => ['transposeA', 'transposeB', 'dW', 'dx'].includes(row.id));
  const ok = transposed.every((row) => row.speedup >= TARGET_PRODUCT_SPEEDUP) && step.speedup >= TARGET_STEP_SPEEDUP &&
      step.leakedTensors === 0;
  const lines = [
    `wasm backend. Medians of ${repeats} interleaved repeats (original kernels and fast products alternate).`,
    `Targets: every transposed product ≥ ${TARGET_PRODUCT_SPEEDUP}× faster, the training step ≥ ${TARGET_STEP_SPEEDUP}× faster` +
        ` — **${ok ? 'met' : 'missed'}**.`,
    '',
    '| product | original ms | GFLOP/s | fast ms | GFLOP/s | speedup | fast ms ÷ plain ms (same b) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...products.map((row) => `| ${row.label} | ${f2(row.offMs)} | ${f1(row.offGflops)} | ${f2(row.onMs)} | ` +
        `${f1(row.onGflops)} | **${f1(row.speedup)}×** | ${f2(1 / row.vsPlain)} |`),
    '',
    '| other kernel | original ms | fast ms | speedup |',
    '| --- | ---: | ---: | ---: |',
    ...rows.filter((row) => row.kind === 'copy').map((row) =>
      `| ${row.label} | ${f2(row.offMs)} | ${f2(row.onMs)} | **${f1(row.speedup)}×** |`),
    '',
    '| training step | original ms | GFLOP/s | fast ms | GFLOP/s | speedup | fast GFLOP/s ÷ plain matMul GFLOP/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${step.label} | ${f1(step.offMs)} | ${f1(step.offGflops)} | ${f1(step.onMs)} | ${f1(step.onGflops)} | ` +
        `**${f1(step.speedup)}×** | ${Math.round(100 * step.vsPlain)}% (same b), ${Math.round(100 * step.vsPlainFresh)}% (new b) |`,
    '',
    `A step is ${f2(STEP_FLOPS / 1e9)} GFLOP of products (forward, dW, dx except the input layer's). ` +
        `Tensors left over after the timed steps: ${step.leakedTensors}.`,
  ];
  for (const line of lines) log(line);
  return {ok, rows, markdown: lines.join('\n')};
}

async function loadLibrary() {
  const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'tfjs-variational.mjs');
  if (!existsSync(dist)) throw new Error('dist/tfjs-variational.mjs is missing: run `npm run build`');
  return import(pathToFileURL(dist).href);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--repeats='));
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  const result = await run({repeats: arg ? Number(arg.split('=')[1]) : undefined});
  if (!result.ok) process.exitCode = 1;
}
