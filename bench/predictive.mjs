// Benchmark `predictive`: tfv.predictive's Monte Carlo prediction over the
// bare loop it replaces — the same S passes of model.predict per batch, each
// output read back — alternated round by round on one model. Reported as the
// ratio of median times measured in one run: what the running sums, the
// entropies and the checks cost on top of the forward passes.

import {performance} from 'node:perf_hooks';
import {median} from './stats.mjs';

export const name = 'predictive';
export const title = 'tfv.predictive over a bare loop of model.predict (784-256-10 BayesianDense classifier, 200 examples, S = 10)';

const EXAMPLES = 200;
const BATCH = 100;
const SAMPLES = 10;
const HIDDEN = 256;

function build({tfl, tfv}) {
  return tfl.sequential({layers: [
    tfl.layers.inputLayer({inputShape: [784]}),
    tfv.layers.bayesianDense({units: HIDDEN, activation: 'relu', numExamples: 10000, seed: 1}),
    tfv.layers.bayesianDense({units: 10, activation: 'softmax', numExamples: 10000, seed: 2}),
  ]});
}

/** S passes per batch, each output read back: the least any Monte Carlo prediction does. */
async function bare(tf, model, x) {
  for (let start = 0; start < EXAMPLES; start += BATCH) {
    const xb = tf.slice(x, start, BATCH);
    for (let s = 0; s < SAMPLES; s++) {
      const y = model.predict(xb, {batchSize: BATCH});
      await y.data();
      y.dispose();
    }
    xb.dispose();
  }
}

async function predictive(tf, tfv, model, x) {
  const r = await tfv.predictive(model, x, {samples: SAMPLES, batchSize: BATCH});
  await Promise.all([r.probs.data(), r.mutualInformation.data()]);
  tf.dispose([r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
}

/**
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, tfv, backends, log} = ctx;
  const rounds = 2 * ctx.repeats;
  const rows = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
    const model = build(ctx);
    const x = tf.randomUniform([EXAMPLES, 784], 0, 1, 'float32', 7);
    await bare(tf, model, x);  // warm-up: build, kernels
    await predictive(tf, tfv, model, x);
    const tensorsBefore = tf.memory().numTensors;
    const times = {bare: [], predictive: []};
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      await bare(tf, model, x);
      times.bare.push(performance.now() - t0);
      t0 = performance.now();
      await predictive(tf, tfv, model, x);
      times.predictive.push(performance.now() - t0);
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    const [b, p] = [median(times.bare), median(times.predictive)];
    rows.push({backend, bare: b, predictive: p, ratio: p / b, leaked});
    log(`${backend}: bare ${b.toFixed(0)} ms, predictive ${p.toFixed(0)} ms, ${(p / b).toFixed(2)}×, ${leaked} tensors left`);
    x.dispose();
    model.dispose();
  }
  const table = rows.map((r) => `| ${r.backend} | ${r.bare.toFixed(0)} ms | ${r.predictive.toFixed(0)} ms | **${r.ratio.toFixed(2)}** | ${r.leaked} |`).join('\n');
  const markdown = `A classifier of two \`tfv.layers.bayesianDense\` layers (784→${HIDDEN} relu → 10 softmax,
reparameterization estimator, seeded), ${EXAMPLES} uniform inputs in batches of ${BATCH}, S = ${SAMPLES} passes.
"Bare": for each batch, S calls of \`model.predict\`, each output read with \`data()\` and disposed.
"predictive": \`tfv.predictive(model, x, {samples: ${SAMPLES}, batchSize: ${BATCH}})\` (running sums of p and H[p],
then p̄, H[p̄], E[H], the mutual information), its results read. The two alternate, ${rounds} rounds each after a
warm-up; medians. Target: ratio ≤ 1.25 and no tensor left behind.

| backend | bare loop | predictive | **ratio** | tensors left |
| --- | --- | --- | --- | --- |
${table}`;
  return {ok: rows.every((r) => r.ratio <= 1.25 && r.leaked === 0), rows, markdown};
}
