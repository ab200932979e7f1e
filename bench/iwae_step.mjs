// Benchmark `iwae-step`: one training step (model.trainOnBatch) of the
// one-stochastic-layer model of Burda et al. (2016) — encoder 784-200-200-50,
// decoder 50-200-200-784, tanh, Bernoulli logits (examples/iwae) — with the
// importance-weighted bound `tfv.objectives.iwae` for k = 1, 5 and 50, against
// the plain ELBO step of the same model (tfv.layers.klDivergence adding the
// closed-form KL through addLoss, reparameterize with one sample,
// tfv.losses.bernoulliNLL as the compiled loss). Batch 100, wasm.
//
// All variants start from the same weights and alternate step by step on the
// same batch (the order reversed every other round), so that load from other
// processes hits them alike; reported are median step times and the same-run
// ratios IWAE(k)/ELBO, beside what a count of the dense products predicts.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';

import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist, mulberry32} = require('../examples/shared/datasets.cjs');

export const name = 'iwae-step';
export const title = 'IWAE training step for k = 1, 5, 50 over the ELBO step (784-200-200-50 model of Burda et al. 2016, batch 100, wasm)';

const BATCH = 100;
const PIXELS = 784;
const HIDDEN = 200;
const LATENT = 50;
const KS = [1, 5, 50];
/** Timed rounds per repeat requested on the command line (each round times every variant once). */
const ROUNDS_PER_REPEAT = 10;
/** Only wasm: on the pure-JS cpu backend a k = 50 step takes seconds. */
const BACKENDS = ['wasm'];

const ENCODER = [[PIXELS, HIDDEN], [HIDDEN, HIDDEN], [HIDDEN, LATENT], [HIDDEN, LATENT]];
const DECODER = [[LATENT, HIDDEN], [HIDDEN, HIDDEN], [HIDDEN, PIXELS]];

/**
 * FLOPs of the dense products of one training step: forward 2·m·in·out per product, backward twice that
 * (dW and dx), except the first layer's dx (the images need no gradient). The encoder sees `batch` rows,
 * the decoder `batch·k`.
 */
function stepFlops(k) {
  const sum = (layers) => layers.reduce((s, [i, o]) => s + i * o, 0);
  const encoder = BATCH * (6 * sum(ENCODER) - 2 * PIXELS * HIDDEN);
  const decoder = BATCH * k * 6 * sum(DECODER);
  return {encoder, decoder, total: encoder + decoder};
}

function build({tf, tfl, tfv}, k, bound) {
  let n = 0;
  const dense = (units, activation, layerName) => tfl.layers.dense({
    units, activation, name: layerName, kernelInitializer: tfl.initializers.glorotUniform({seed: n++}),
  });
  const x = tfl.input({shape: [PIXELS]});
  const h = dense(HIDDEN, 'tanh', 'encoder_2').apply(dense(HIDDEN, 'tanh', 'encoder_1').apply(x));
  let mu = dense(LATENT, undefined, 'z_mu').apply(h);
  let logVar = dense(LATENT, undefined, 'z_log_var').apply(h);
  [mu, logVar] = tfv.layers.klDivergence().apply([mu, logVar]);
  const z = tfv.layers.reparameterize({samples: k, seed: 7}).apply([mu, logVar]);
  const g = dense(HIDDEN, 'tanh', 'decoder_2').apply(dense(HIDDEN, 'tanh', 'decoder_1').apply(z));
  const model = tfl.model({inputs: x, outputs: dense(PIXELS, undefined, 'logits').apply(g)});
  const likelihood = tfv.losses.bernoulliNLL({fromLogits: true});
  model.compile({
    optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-4),
    loss: bound ? tfv.objectives.iwae({likelihood}) : likelihood,
  });
  return model;
}

async function timed(fn) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const out = await fn();
  const c = process.cpuUsage(c0);
  return {ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, out};
}

/**
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, log} = ctx;
  const rounds = ctx.repeats * ROUNDS_PER_REPEAT;
  const backends = ctx.backends.filter((b) => BACKENDS.includes(b));
  const skipped = ctx.backends.filter((b) => !BACKENDS.includes(b));
  const data = loadEmbeddedMnist({split: 'all', count: BATCH});
  // Binarized once (seeded), as the example binarizes its test set.
  const rand = mulberry32(1509);
  const pixels = data.images.map((p) => (rand() < p ? 1 : 0));
  const results = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
    const x = tf.tensor2d(pixels, [BATCH, PIXELS]);
    const variants = [
      {key: 'elbo', label: 'ELBO (klDivergence + bernoulliNLL), k = 1', k: 1, model: build(ctx, 1, false)},
      ...KS.map((k) => ({key: `iwae${k}`, label: `IWAE, k = ${k}`, k, model: build(ctx, k, true)})),
    ];
    const start = variants[0].model.getWeights();
    for (const v of variants.slice(1)) v.model.setWeights(start);
    for (const v of variants) {
      v.times = [];
      v.losses = [];
      await v.model.trainOnBatch(x, x);  // warm-up: optimizer slots, kernels
    }
    log(`[iwae-step] ${backend}: batch ${BATCH}, ${rounds} timed rounds after 1 warm-up step each`);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const t = await timed(() => v.model.trainOnBatch(x, x));
        v.times.push(t);
        v.losses.push(Array.isArray(t.out) ? t.out[0] : t.out);
      }
    }
    const base = variants[0];
    const baseMs = median(base.times.map((t) => t.ms));
    const baseCpu = median(base.times.map((t) => t.cpuMs));
    const rows = variants.map((v) => {
      const ms = median(v.times.map((t) => t.ms));
      const cpuMs = median(v.times.map((t) => t.cpuMs));
      const flops = stepFlops(v.k);
      return {
        backend, variant: v.label, k: v.k, rounds, ms, cpuMs, ratio: ms / baseMs, cpuRatio: cpuMs / baseCpu,
        predicted: flops.total / stepFlops(1).total, gflops: flops.total / 1e9, gflopPerS: flops.total / (ms * 1e6),
        decoderShare: flops.decoder / flops.total, lastLoss: v.losses[v.losses.length - 1],
      };
    });
    for (const row of rows) {
      log(`  ${row.variant.padEnd(44)} ${row.ms.toFixed(1).padStart(7)} ms (cpu ${row.cpuMs.toFixed(1)} ms)  ` +
          `x${row.ratio.toFixed(2)} of ELBO (products predict x${row.predicted.toFixed(2)}), ` +
          `${row.gflopPerS.toFixed(1)} GFLOP/s, last loss ${row.lastLoss.toFixed(1)}`);
      if (!Number.isFinite(row.lastLoss)) throw new Error(`iwae-step: ${row.variant}: loss ${row.lastLoss}`);
    }
    results.push(...rows);
    for (const v of variants) {
      v.model.optimizer.dispose();
      v.model.dispose();
    }
    tf.dispose([x, ...start]);
  }
  return {ok: true, rows: results, markdown: toMarkdown(results, rounds, skipped)};
}

function toMarkdown(rows, rounds, skipped) {
  const f1 = stepFlops(1);
  const lines = [
    'One `model.trainOnBatch` step (forward pass, compiled loss, layer losses, gradients, Adam) of the model of',
    '`examples/iwae` — encoder 784-200-200-(mu 50, log-variance 50), decoder 50-200-200-784, tanh, Bernoulli logits —',
    'on one batch of 100 binarized MNIST digits. **ELBO**: `tfv.layers.klDivergence` (closed-form KL through `addLoss`)',
    '+ `tfv.layers.reparameterize()` + `tfv.losses.bernoulliNLL({fromLogits: true})`. **IWAE, k**: the same graph with',
    '`reparameterize({samples: k})`, compiled with `tfv.objectives.iwae({likelihood: bernoulliNLL})` (bound mode: the',
    'layer records `log p(z) − log q(z|x)` per sample; the KL layer only declares the prior). All variants start from',
    'the same weights and take turns step by step (order reversed every other round); medians of wall-clock time',
    `over ${rounds} rounds, process CPU time beside. Ratios are to the ELBO step of the same run.`,
    '',
    '| backend | variant | step (median) | CPU time | **ratio to ELBO** | CPU ratio | predicted by the products | product GFLOP per step | GFLOP/s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.backend} | ${r.variant} | ${r.ms.toFixed(1)} ms | ${r.cpuMs.toFixed(1)} ms | **${r.ratio.toFixed(2)}** | ` +
        `${r.cpuRatio.toFixed(2)} | ${r.predicted.toFixed(2)} | ${r.gflops.toFixed(3)} | ${r.gflopPerS.toFixed(1)} |`);
  }
  lines.push('',
      'What scales with k: the encoder (784-200-200 and the two 200×50 heads) runs once per example, forward and',
      'backward; `reparameterize` repeats mu and log-variance k times, so the decoder, its activations, the likelihood',
      'on `[100·k, 784]` logits and the gradients of the decoder\'s weights see 100·k rows. "Predicted by the products"',
      'counts the dense products only (forward 2·m·in·out, backward twice that, no dx for the input layer): ' +
      `${(f1.encoder / BATCH / 1e6).toFixed(3)} MFLOP per example for the encoder and ` +
      `${(f1.decoder / BATCH / 1e6).toFixed(3)} MFLOP per sample for the decoder, so a step costs ` +
      '(encoder + k · decoder) / (encoder + decoder) of the k = 1 step; the log-sum-exp over the k log-weights, the',
      'sampling and Adam (whose cost does not depend on k) are not counted.');
  if (skipped.length) lines.push('', `Not run on ${skipped.join(', ')} (wasm only: a k = 50 step takes seconds on the cpu backend).`);
  return lines.join('\n');
}
