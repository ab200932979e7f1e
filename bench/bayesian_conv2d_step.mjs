// Benchmark `bayesian-conv2d-step`: one training step of a small convolutional
// classifier whose convolution is tfv.layers.bayesianConv2d (each estimator),
// over the same model with tfjs's Conv2D, alternated step by step on the same
// batch (model.trainOnBatch: forward pass, loss, KL, gradients, Adam).
// Reported as the ratio of median step times measured in one run.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'bayesian-conv2d-step';
export const title = 'BayesianConv2D training step over Conv2D, per estimator (28×28 conv 3×3×16 → dense 10, batch 64)';

const BATCH = 64;
const FILTERS = 16;
const ESTIMATORS = ['reparameterization', 'localReparameterization', 'flipout'];
const ROUNDS_PER_REPEAT = 5;

function build({tf, tfl, tfv}, estimator) {
  const conv = estimator === 'conv2d' ?
    tfl.layers.conv2d({filters: FILTERS, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({seed: 1})}) :
    tfv.layers.bayesianConv2d({filters: FILTERS, kernelSize: 3, activation: 'relu', estimator, numExamples: 10000, seed: 1});
  const model = tfl.sequential({layers: [
    tfl.layers.inputLayer({inputShape: [28, 28, 1]}),
    conv,
    tfl.layers.flatten(),
    tfl.layers.dense({units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({seed: 2})}),
  ]});
  model.compile({optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy'});
  return model;
}

/**
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, backends, log} = ctx;
  const rounds = ctx.repeats * ROUNDS_PER_REPEAT;
  const data = loadEmbeddedMnist({split: 'all', count: BATCH});
  const rows = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
    const x = tf.tensor4d(data.images, [BATCH, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(Array.from(data.labels), 'int32'), 10);
    const variants = ['conv2d', ...ESTIMATORS].map((estimator) => ({estimator, model: build(ctx, estimator), ms: []}));
    for (const v of variants) await v.model.trainOnBatch(x, y);  // warm-up: optimizer slots, kernels
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const t0 = performance.now();
        await v.model.trainOnBatch(x, y);
        v.ms.push(performance.now() - t0);
      }
    }
    const base = median(variants[0].ms);
    for (const v of variants) {
      const ms = median(v.ms);
      rows.push({backend, estimator: v.estimator, ms, ratio: ms / base});
      log(`${backend} ${v.estimator}: ${ms.toFixed(1)} ms per step, ${(ms / base).toFixed(2)}× Conv2D`);
      v.model.optimizer.dispose();
      v.model.dispose();
    }
    tf.dispose([x, y]);
  }
  const table = rows.map((r) => `| ${r.backend} | ${r.estimator === 'conv2d' ? 'tfjs Conv2D (baseline)' : r.estimator} | ` +
      `${r.ms.toFixed(1)} ms | **${r.ratio.toFixed(2)}** |`).join('\n');
  const markdown = `A 28×28×1 input, a 3×3 convolution with ${FILTERS} filters (relu, valid), flatten, dense 10 softmax;
categorical cross-entropy, Adam 1e-3, one batch of ${BATCH} real MNIST digits; \`model.trainOnBatch\` per step. The Bayesian
variants replace the convolution by \`tfv.layers.bayesianConv2d\` (Gaussian prior, analytic KL scaled by 1/10000). The
variants alternate step by step (${rounds} timed steps each after a warm-up step); medians. Ratio = step time over the
Conv2D model's in the same run. Reparameterization and flipout draw one kernel perturbation per step; local
reparameterization and flipout cost a second convolution (flipout also the sign products), local reparameterization
one normal per output (${BATCH}×26×26×${FILTERS}).

| backend | convolution | step (median) | **ratio to Conv2D** |
| --- | --- | --- | --- |
${table}`;
  return {ok: true, rows, markdown};
}
