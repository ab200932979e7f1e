// Benchmark `bayesian-dense-account`: where the time of a BayesianDense
// training step goes beside the Dense step of `bayesian-dense-step`, on wasm.
//
// Two measurements, both in this run:
//
// 1. In the models. Each step of `bayesian-dense-step` at its batch B and at
//    batch 1. At batch 1 the products cost next to nothing, so that step is the
//    per-weight work (noise, sample, KL, their gradients, Adam, the engine).
//    A step at batch B is then close to its batch-1 step plus k times the
//    products of the Dense step, D(B) − D(1), with k = 1 for
//    reparameterization and k = 2 for local reparameterization and flipout
//    (their second product). That gives, for a target r, the per-weight work
//    the target leaves: E(1) ≤ r·D(B) − k·(D(B) − D(1)).
// 2. The per-weight passes alone. The library's WebAssembly modules
//    (src/perf/*.wat, assembled here with wabt) on a memory of their own, each
//    pass over as many weights as the model has: the noise (Threefry and
//    Box–Muller), the fused sample with its Gaussian KL and gradient factors,
//    its backward, and Adam (tfjs's arithmetic) on ρ, warm (the same buffers
//    every call) and cold (each call on another copy of them, about a
//    gigabyte of traffic after its last use, as inside a step). A
//    reparameterized step needs all four on top of the Dense step; their sum,
//    against 0.3·D(B) per weight, is what target 1.3× leaves them before any
//    other work.
//
// An account, not a target: it passes whenever it runs.

import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';

import wabtFactory from 'wabt';

import {build, MODELS, TARGETS} from './bayesian_dense_step.mjs';
import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');
const perfDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'perf');

export const name = 'bayesian-dense-account';
export const title = 'Where a BayesianDense step\'s time goes: steps at batch 1 and the per-weight passes alone (wasm)';

const ESTIMATORS = ['reparameterization', 'localReparameterization', 'flipout'];
const PRODUCTS = {reparameterization: 1, localReparameterization: 2, flipout: 2};
/** Timed steps per variant and batch: repeats × this. */
const ROUNDS_PER_REPEAT = 5;
/** Timed calls of each pass: the best of this many runs of 10 calls. */
const PASS_RUNS = 7;

function kernelWeights(spec) {
  const sizes = [784, ...spec.hidden, 10];
  let w = 0;
  for (let i = 1; i < sizes.length; i++) w += sizes[i - 1] * sizes[i];
  return w;
}

/** Bytes of the memory the passes run on: room for SETS copies of their buffers. */
const MEMORY_BYTES = 1 << 30;
/** Buffers per set: μ, ρ, ε, noise out, sample, a, e, dw, t, dμ, dρ, Adam's m, v and its three outputs. */
const BUFFERS = 16;

async function loadModules() {
  const wabt = await wabtFactory();
  const memory = new WebAssembly.Memory({initial: MEMORY_BYTES / 65536});
  const instance = (file) => {
    const module = wabt.parseWat(file, readFileSync(join(perfDir, file), 'utf8'), {simd: true});
    const {buffer} = module.toBinary({});
    module.destroy();
    return new WebAssembly.Instance(new WebAssembly.Module(buffer), {env: {memory}}).exports;
  };
  return {memory, random: instance('random_kernels.wat'), posterior: instance('posterior_kernels.wat'),
    simd: instance('simd_kernels.wat')};
}

/**
 * Nanoseconds per weight of each pass over `n` weights, the best of PASS_RUNS runs of 10 calls: "warm", every call
 * on the same buffers (which stay in the caches between calls), and "cold", each call on the next of many copies of
 * them, so that a call's buffers were last touched about a gigabyte of traffic before it, as in a training step,
 * where the other passes and the products run between two uses of a tensor.
 */
function timePasses({memory, random, posterior, simd}, n) {
  const bytes = 4 * (n + 64);
  const setBytes = BUFFERS * bytes;
  const sets = Math.floor(MEMORY_BYTES / setBytes);
  const at = (set, k) => set * setBytes + k * bytes;  // byte offset of buffer k of a set
  const f32 = new Float32Array(memory.buffer);
  const fill = (k, f) => { for (let i = 0, o = at(0, k) / 4; i < n; i++) f32[o + i] = f(i); };
  // μ, ρ as a trained layer might hold them; ε from the generator itself; dw a small gradient.
  let seed = 12345;
  const uniform = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  fill(0, () => 0.05 * (uniform() - 0.5));   // μ
  fill(1, () => -5 + uniform());             // ρ (σ ≈ 0.007–0.018)
  random.normals(at(0, 2), Math.floor(n / 8), 1, 2, 0);  // ε
  fill(7, () => 1e-3 * (uniform() - 0.5));   // dw
  fill(11, () => 0);                         // Adam's moments
  fill(12, () => 0);
  const u8 = new Uint8Array(memory.buffer);
  for (let set = 1; set < sets; set++) u8.copyWithin(at(set, 0), 0, setBytes);
  const blocks = Math.floor(n / 8);
  const passes = {
    noise: (s) => random.normals(at(s, 3), blocks, 7, 9, 0),
    // sample_normal_kl(μ, ρ, ε, out, a, e, t, n, floor, centered, m, c, save): N(0, 1) prior, factors saved.
    forward: (s) => posterior.sample_normal_kl(at(s, 0), at(s, 1), at(s, 2), at(s, 4), at(s, 5), at(s, 6), at(s, 8), n,
        1e-5, 0, 0, 1, 1),
    // sample_kl_grad(dw, a, e, t, base, dμ, dρ, n, withBase, g)
    backward: (s) => posterior.sample_kl_grad(at(s, 7), at(s, 5), at(s, 6), at(s, 8), at(s, 7), at(s, 9), at(s, 10), n,
        1, 1e-4),
    // adam(g, m, v, w, m', v', w', n, β1, 1 − β1, β2, 1 − β2, 1 − β1ᵗ, 1 − β2ᵗ, ε, −lr) on ρ, tfjs's defaults at step 10
    adam: (s) => simd.adam(at(s, 7), at(s, 11), at(s, 12), at(s, 1), at(s, 13), at(s, 14), at(s, 15), n,
        0.9, 0.1, 0.999, 0.001, 1 - 0.9 ** 10, 1 - 0.999 ** 10, 1e-7, -1e-3),
  };
  const best = (fn, rotate) => {
    let call = 0;
    const next = () => fn(rotate ? (call++ % sets) : 0);
    for (let i = 0; i < 5; i++) next();
    let ms = Infinity;
    for (let r = 0; r < PASS_RUNS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) next();
      ms = Math.min(ms, (performance.now() - t0) / 10);
    }
    return ms * 1e6 / n;
  };
  const result = {sets};
  for (const kind of ['warm', 'cold']) {
    const r = {};
    for (const [key, fn] of Object.entries(passes)) r[key] = best(fn, kind === 'cold');
    r.sum = r.noise + r.forward + r.backward + r.adam;
    result[kind] = r;
  }
  return result;
}

/**
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, log} = ctx;
  if (!ctx.backends.includes('wasm')) {
    return {ok: true, rows: [], markdown: 'Not run: this account is for the wasm backend (`--backends=wasm`).'};
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('backend \'wasm\' could not be initialised');
  await tf.ready();
  const rounds = ctx.repeats * ROUNDS_PER_REPEAT;
  const modules = await loadModules();
  const rows = [];
  const passes = [];
  for (const spec of MODELS) {
    const weights = kernelWeights(spec);
    const batches = [spec.batch, 1];
    const data = loadEmbeddedMnist({split: 'all', count: spec.batch});
    const inputs = batches.map((b) => {
      const x = tf.tensor2d(data.images.subarray(0, b * 784), [b, 784]);
      const y = tf.oneHot(tf.tensor1d(Array.from(data.labels.subarray(0, b)), 'int32'), 10);
      return {b, x, y};
    });
    const variants = [{estimator: 'dense', prior: null}, ...ESTIMATORS.map((estimator) => ({estimator, prior: 'gaussian'}))];
    for (const v of variants) {
      v.model = build(ctx, spec, v);
      v.ms = inputs.map(() => []);
      for (const {x, y} of inputs) {
        await v.model.trainOnBatch(x, y);  // warm-up
        await v.model.trainOnBatch(x, y);
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < inputs.length; k++) {
        for (const v of variants) {
          const t0 = performance.now();
          await v.model.trainOnBatch(inputs[k].x, inputs[k].y);
          v.ms[k].push(performance.now() - t0);
        }
      }
    }
    const dense = variants[0];
    const dB = median(dense.ms[0]);
    const d1 = median(dense.ms[1]);
    for (const v of variants) {
      const stepB = median(v.ms[0]);
      const step1 = median(v.ms[1]);
      const row = {model: spec.id, batch: spec.batch, weights, estimator: v.estimator, rounds, stepB, step1,
        ratio: stepB / dB};
      if (v.estimator !== 'dense') {
        const k = PRODUCTS[v.estimator];
        row.products = k;
        row.predicted = (k * (dB - d1) + step1) / dB;
        row.allowed1 = TARGETS[v.estimator] * dB - k * (dB - d1);
        row.target = TARGETS[v.estimator];
      }
      rows.push(row);
      log(`wasm ${spec.id} ${v.estimator}: batch ${spec.batch} ${stepB.toFixed(2)} ms (${row.ratio.toFixed(2)}× Dense), ` +
          `batch 1 ${step1.toFixed(2)} ms` + (row.allowed1 ? `; the target leaves ${row.allowed1.toFixed(2)} ms at batch 1` : ''));
      v.model.optimizer.dispose();
      v.model.dispose();
    }
    tf.dispose(inputs.flatMap(({x, y}) => [x, y]));
    const p = timePasses(modules, weights);
    const allowed = 0.3 * dB * 1e6 / weights;
    passes.push({model: spec.id, batch: spec.batch, weights, ...p, allowed, denseNs: dB * 1e6 / weights});
    for (const kind of ['warm', 'cold']) {
      const q = p[kind];
      log(`wasm ${spec.id}: passes alone, ${kind}, ${q.sum.toFixed(2)} ns/weight (noise ${q.noise.toFixed(2)}, ` +
          `sample ${q.forward.toFixed(2)}, backward ${q.backward.toFixed(2)}, Adam ${q.adam.toFixed(2)}); ` +
          `1.3× leaves ${allowed.toFixed(2)}`);
    }
  }

  const f2 = (v) => v.toFixed(2);
  const stepTable = rows.map((r) => `| ${r.model} | ${r.weights.toLocaleString('en-US')} | ` +
      `${r.estimator === 'dense' ? 'tfjs Dense (baseline)' : r.estimator} | ${f2(r.stepB)} ms (batch ${r.batch}) | ` +
      `**${f2(r.ratio)}** | ${f2(r.step1)} ms | ${r.products ?? ''} | ${r.predicted == null ? '' : f2(r.predicted)} | ` +
      `${r.target == null ? '' : `≤ ${r.target}`} | ${r.allowed1 == null ? '' : `${f2(r.allowed1)} ms`} |`).join('\n');
  const passTable = passes.flatMap((p) => ['warm', 'cold'].map((kind) => {
    const q = p[kind];
    return `| ${p.model} (batch ${p.batch}) | ${p.weights.toLocaleString('en-US')} | ${kind} | ${f2(q.noise)} | ` +
        `${f2(q.forward)} | ${f2(q.backward)} | ${f2(q.adam)} | **${f2(q.sum)}** | ${f2(p.denseNs)} | **${f2(p.allowed)}** |`;
  })).join('\n');
  const markdown = `The models of \`bayesian-dense-step\` (Gaussian prior N(0, 1)), on wasm. ${rounds} timed steps of each
variant at each batch size, the variants and batch sizes alternating step by step; medians of wall-clock time.

**Steps at batch B and at batch 1.** At batch 1 the products cost next to nothing, so E(1), the step at batch 1, is
the per-weight work: noise, sample, KL and their gradients, Adam, the engine. With D the Dense step, a step at batch B
is near E(1) + k·(D(B) − D(1)), k the number of products per layer (1 for reparameterization; 2 for local
reparameterization and flipout). "Predicted" is that sum over D(B); the last column is what a target r leaves the
batch-1 step: r·D(B) − k·(D(B) − D(1)).

| model | kernel weights | estimator | step at batch B | **ratio to Dense** | step at batch 1 | k | predicted | target | batch-1 step the target leaves |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |
${stepTable}

**The per-weight passes alone**, in nanoseconds per weight: the library's WebAssembly modules (\`src/perf/*.wat\`,
assembled with wabt) on a memory of their own, each over as many weights as the model has, the best of ${PASS_RUNS} runs
of 10 calls, warm (every call on the same buffers, which stay in the caches) and cold (each call on the next of
the copies of its buffers that fill 1 GiB, ${passes.map((p) => p.sets).join(' and ')} of them, as in a step, where other passes and the products
run between two uses of a tensor): the noise (\`normals\`: Threefry-2x32-20 and Box–Muller), the fused sample with its KL and gradient
factors (\`sample_normal_kl\`), its backward (\`sample_kl_grad\`) and Adam on ρ with tfjs's arithmetic (\`adam\`). A
reparameterized step needs all four besides what the Dense step does; target 1.3× leaves them 0.3·D(B) per weight,
before the engine's work and before the slower memory of a whole step.

| model | kernel weights | buffers | noise | sample + KL | backward | Adam on ρ | **sum** | Dense step per weight | **0.3·D(B) per weight** |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${passTable}`;
  return {ok: true, rows: [...rows, ...passes], markdown};
}
