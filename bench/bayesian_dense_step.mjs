// Benchmark `bayesian-dense-step`: one training step of a small classifier
// whose hidden and output layers are tfv.layers.bayesianDense (each
// estimator), over the same model with tfjs's Dense, alternated step by step
// on the same batch (model.trainOnBatch: forward pass, loss, KL, gradients,
// Adam). Reported as the ratio of median step times measured in one run.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'bayesian-dense-step';
export const title = 'BayesianDense training step over Dense, per estimator (784-512-10 classifier, batch 256)';

const BATCH = 256;
const HIDDEN = 512;
const ESTIMATORS = ['reparameterization', 'localReparameterization', 'flipout'];
const ROUNDS_PER_REPEAT = 5;

function build({tf, tfl, tfv}, estimator) {
  const layer = (units, activation, i) => estimator === 'dense' ?
    tfl.layers.dense({units, activation, kernelInitializer: tfl.initializers.glorotUniform({seed: i})}) :
    tfv.layers.bayesianDense({units, activation, estimator, numExamples: 10000, seed: i});
  const model = tfl.sequential({layers: [
    tfl.layers.inputLayer({inputShape: [784]}),
    layer(HIDDEN, 'relu', 1),
    layer(10, 'softmax', 2),
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
    const x = tf.tensor2d(data.images, [BATCH, 784]);
    const y = tf.oneHot(tf.tensor1d(Array.from(data.labels), 'int32'), 10);
    const variants = ['dense', ...ESTIMATORS].map((estimator) => ({estimator, model: build(ctx, estimator), ms: []}));
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
      log(`${backend} ${v.estimator}: ${ms.toFixed(1)} ms per step, ${(ms / base).toFixed(2)}× Dense`);
      v.model.optimizer.dispose();
      v.model.dispose();
    }
    tf.dispose([x, y]);
  }
  const table = rows.map((r) => `| ${r.backend} | ${r.estimator === 'dense' ? 'tfjs Dense (baseline)' : r.estimator} | ` +
      `${r.ms.toFixed(1)} ms | **${r.ratio.toFixed(2)}** |`).join('\n');
  const markdown = `Two layers (784→${HIDDEN} relu → 10 softmax), categorical cross-entropy, Adam 1e-3, one batch of ${BATCH}
real MNIST digits; \`model.trainOnBatch\` per step. The Bayesian variants use \`tfv.layers.bayesianDense\`
(Gaussian prior, analytic KL scaled by 1/10000) for both layers. The variants alternate step by step
(${rounds} timed steps each after a warm-up step); medians. Ratio = step time over the Dense model's
in the same run.

| backend | layers | step (median) | **ratio to Dense** |
| --- | --- | --- | --- |
${table}`;
  return {ok: true, rows, markdown};
}
