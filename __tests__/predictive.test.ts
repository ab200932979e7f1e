/**
 * tfv.predictive: exact values on a layer whose passes are known, a seeded
 * brute-force reference (the same draws by hand, reduced in float64),
 * analytic values under known noise with tolerances from the estimators'
 * distributions, batching, the task read from the model, errors, leaks.
 *
 * Every draw is seeded (layer seeds; Math.random reseeded per test), so
 * outcomes are fixed on a backend. Statistical assertions (2 per run, on
 * cpu: tfjs draws seeded noise in JavaScript, so wasm would see the same
 * draws and add no independent chance of failure): see each test.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {normalTwoSidedTail, P_ASSERTION, sampleVarianceRatioBounds, uniform, useSeededMathRandom} from './helpers/random';

useSeededMathRandom(0x9d1c);

/**
 * A test layer whose i-th call returns `table[i mod T]` (rows = examples): a
 * "stochastic" model whose passes are known exactly.
 */
class CycleLayer extends tfl.layers.Layer {
  static className = 'CycleTestLayer';
  private calls = 0;
  constructor(private readonly table: number[][][]) {
    super({});
  }
  override computeOutputShape(inputShape: tfl.Shape|tfl.Shape[]): tfl.Shape {
    const s = inputShape as tfl.Shape;
    return [s[0], this.table[0][0].length];
  }
  override call(inputs: tf.Tensor|tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const rows = this.table[this.calls++ % this.table.length];
    // Row r of the batch is example x[r, 0] (an index into the table's rows).
    const idx = Array.from(x.dataSync(), (v) => rows[v]);
    return tf.tensor2d(idx);
  }
}

function cycleModel(table: number[][][]): tfl.LayersModel {
  const x = tfl.input({shape: [1]});
  return tfl.model({inputs: x, outputs: new CycleLayer(table).apply(x) as tfl.SymbolicTensor});
}

/** The result as the task it must be (the task was read from the model). */
function asClassification(r: tfv.Prediction): tfv.ClassificationPrediction {
  if (r.task !== 'classification') throw new Error(`expected a classification result. Received: task='${r.task}'`);
  return r;
}

function asRegression(r: tfv.Prediction): tfv.RegressionPrediction {
  if (r.task !== 'regression') throw new Error(`expected a regression result. Received: task='${r.task}'`);
  return r;
}

const indices = (n: number) => tf.tensor2d(Array.from({length: n}, (_, i) => [i]));
const LOG2 = Math.log(2);

/** x [N, 3] → bayesianDense(4) → reparameterize (halves) → bayesianDense(3, softmax): every layer seeded. */
function bayesianClassifier(estimator: 'reparameterization'|'flipout' = 'reparameterization', withLatent = true): tfl.LayersModel {
  const x = tfl.input({shape: [3]});
  let h = tfv.layers.bayesianDense({units: withLatent ? 4 : 2, numExamples: 20, seed: 1, estimator}).apply(x);
  if (withLatent) h = tfv.layers.reparameterize({seed: 2}).apply(h);
  const y = tfv.layers.bayesianDense({units: 3, numExamples: 20, seed: 3, activation: 'softmax', estimator}).apply(h);
  return tfl.model({inputs: x, outputs: y as tfl.SymbolicTensor});
}

function resetSeeds(model: tfl.LayersModel): void {
  for (const l of model.layers) (l as {resetSeed?: () => void}).resetSeed?.();
}

/** float64 reductions of S passes by hand: p̄, H[p̄], E[H], H[p̄] − E[H]. */
function bruteClassification(passes: number[][][]): number[][] {
  const s = passes.length;
  const h = (p: number[]) => -p.reduce((acc, v) => acc + (v > 0 ? v * Math.log(v) : 0), 0);
  return passes[0].map((_, i) => {
    const mean = passes[0][i].map((_, c) => passes.reduce((acc, p) => acc + p[i][c], 0) / s);
    const expected = passes.reduce((acc, p) => acc + h(p[i]), 0) / s;
    return [...mean, h(mean), expected, h(mean) - expected];
  });
}

describe.each(NODE_BACKENDS)('predictive on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('gives the hand-computed mean, entropies and mutual information of known passes (0 log 0 = 0)', async () => {
    // Example 0: one-hot [1, 0] then [0, 1]: p̄ = [½, ½], H[p̄] = log 2, E[H] = 0, I = log 2.
    // Example 1: [½, ½] twice: H[p̄] = E[H] = log 2, I = 0.
    const model = cycleModel([[[1, 0], [0.5, 0.5]], [[0, 1], [0.5, 0.5]]]);
    const x = indices(2);
    const r = await tfv.predictive(model, x, {samples: 2, task: 'classification'});
    expect(r.task).toBe('classification');
    expect(r.samples).toBe(2);
    expectClose(r.probs, tf.tensor2d([[0.5, 0.5], [0.5, 0.5]]));
    expectClose(r.predictiveEntropy, [LOG2, LOG2]);
    expectClose(r.expectedEntropy, [0, LOG2]);
    expectClose(r.mutualInformation, [LOG2, 0]);
    tf.dispose([x, r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
  });

  it('takes logits with fromLogits, and refuses logits passed as probabilities', async () => {
    // Logits [0, log 3] → p = [¼, ¾]; [log 3, 0] → [¾, ¼]; p̄ = [½, ½]; H(¼, ¾) = log 4 − ¾ log 3.
    const model = cycleModel([[[0, Math.log(3)]], [[Math.log(3), 0]]]);
    const x = indices(1);
    const r = await tfv.predictive(model, x, {samples: 2, task: 'classification', fromLogits: true});
    const h = Math.log(4) - 0.75 * Math.log(3);
    expectClose(r.probs, [0.5, 0.5]);
    expectClose(r.expectedEntropy, [h]);
    expectClose(r.mutualInformation, [LOG2 - h]);
    await expect(tfv.predictive(model, x, {samples: 2, task: 'classification'})).rejects.toThrow(
        /expected the model's outputs to be class probabilities.*pass fromLogits: true/);
    tf.dispose([x, r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
  });

  it('gives the regression mean and spread, and with a Gaussian head the mixture variance', async () => {
    // Means 1 and 3: mean 2, spread √(((1−2)² + (3−2)²)/2) = 1.
    const plain = cycleModel([[[1]], [[3]]]);
    const x = indices(1);
    const r = await tfv.predictive(plain, x, {samples: 4, task: 'regression'});
    expectClose(r.mean, tf.tensor2d([[2]]));
    expectClose(r.stddev, tf.tensor2d([[1]]));
    expect(r.epistemicStddev).toBeUndefined();
    // [mean, logVar] = [1, log 4] and [3, 0]: aleatoric (4 + 1)/2 = 2.5, epistemic 1, total 3.5.
    const head = cycleModel([[[1, Math.log(4)]], [[3, 0]]]);
    const g = await tfv.predictive(head, x, {samples: 2, task: 'regression', gaussianHead: true});
    expectClose(g.mean, [2]);
    expectClose(g.stddev, [Math.sqrt(3.5)]);
    expectClose(g.epistemicStddev!, [1]);
    expectClose(g.aleatoricStddev!, [Math.sqrt(2.5)]);
    tf.dispose([x, r.mean, r.stddev, g.mean, g.stddev, g.epistemicStddev!, g.aleatoricStddev!]);
  });

  it('reads a gaussianOutput head by itself and two outputs [mean, logVar] with gaussianHead: true', async () => {
    const x = tfl.input({shape: [2]});
    const z = tfv.layers.reparameterize({seed: 7}).apply(x);
    const mean = tfl.layers.dense({units: 1, kernelInitializer: 'ones', name: 'm'}).apply(z) as tfl.SymbolicTensor;
    const logVar = tfl.layers.dense({units: 1, kernelInitializer: 'ones', name: 'lv'}).apply(z) as tfl.SymbolicTensor;
    const one = tfl.model({inputs: x, outputs: tfv.layers.gaussianOutput().apply([mean, logVar])});
    const two = tfl.model({inputs: x, outputs: [mean, logVar]});
    const xs = tf.tensor2d([[0.5, -1], [-0.3, 0.2], [1, -2]]);
    const a = asRegression(await tfv.predictive(one, xs, {samples: 20, resetSeeds: true}));
    const b = await tfv.predictive(two, xs, {samples: 20, resetSeeds: true, task: 'regression', gaussianHead: true});
    expect(a.task).toBe('regression');
    expectClose(b.mean, a.mean);
    expectClose(b.stddev, a.stddev);
    expectClose(tf.square(a.stddev), tf.add(tf.square(a.epistemicStddev!), tf.square(a.aleatoricStddev!)), 1e-5, 1e-6);
    await expect(tfv.predictive(two, xs, {samples: 2, task: 'regression'})).rejects.toThrow(
        /one output, or gaussianHead: true for two outputs \[mean, logVar\]. Received: 2 outputs/);
    tf.dispose([xs, a.mean, a.stddev, a.epistemicStddev!, a.aleatoricStddev!, b.mean, b.stddev, b.epistemicStddev!, b.aleatoricStddev!]);
  });

  it('equals S passes of model.predict reduced by hand, with the same seeds (samples: 3 per pass too)', async () => {
    const model = bayesianClassifier();
    const xs = tf.tensor2d(uniform(21, 5, -2, 2), [7, 3]);
    const s = 6;
    resetSeeds(model);
    const passes: number[][][] = [];
    for (let i = 0; i < s; i++) {
      const y = model.predict(xs, {batchSize: 7}) as tf.Tensor;
      passes.push(y.arraySync() as number[][]);
      y.dispose();
    }
    const ref = bruteClassification(passes);
    const r = asClassification(await tfv.predictive(model, xs, {samples: s, batchSize: 7, resetSeeds: true}));
    expect(r.task).toBe('classification');  // read from the softmax output layer
    const got = await Promise.all([r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation].map((t) => t.array()));
    const rows = (got[0] as number[][]).map((p, i) => [...p, ...got.slice(1).map((t) => (t as number[])[i])]);
    expectClose(rows.flat(), ref.flat(), 1e-4, 1e-5);
    // Mutual information is not all 0 here: the weights and the latent draw differ between passes.
    expect(Math.max(...(got[3] as number[]))).toBeGreaterThan(1e-3);

    // A latent drawing k = 3 samples per example: outputs [3·b, …], S·k draws per example.
    const x0 = tfl.input({shape: [4]});
    const z = tfv.layers.reparameterize({samples: 3, seed: 5}).apply(x0);
    const multi = tfl.model({inputs: x0, outputs: tfl.layers.dense({units: 2, activation: 'softmax'}).apply(z) as tfl.SymbolicTensor});
    const x4 = tf.tensor2d(uniform(8, 9, -1, 1), [2, 4]);
    resetSeeds(multi);
    const draws: number[][][] = [];
    for (let i = 0; i < 2; i++) {
      const y = (multi.predict(x4) as tf.Tensor).arraySync() as number[][];
      for (let k = 0; k < 3; k++) draws.push([y[k], y[3 + k]]);  // example-major rows b·3 + k
    }
    const m = asClassification(await tfv.predictive(multi, x4, {samples: 2, resetSeeds: true}));
    expect(m.samples).toBe(6);
    expect(m.probs.shape).toEqual([2, 2]);
    expectClose(m.mutualInformation, bruteClassification(draws).map((row) => row[row.length - 1]), 1e-4, 1e-5);
    tf.dispose([xs, x4, r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation,
      m.probs, m.predictiveEntropy, m.expectedEntropy, m.mutualInformation]);
  });

  it('repeats exactly with resetSeeds, and per-call weight noise gives the same result for any batchSize', async () => {
    const model = bayesianClassifier('reparameterization', false);
    const xs = tf.tensor2d(uniform(30, 13, -2, 2), [10, 3]);
    const one = asClassification(await tfv.predictive(model, xs, {samples: 5, batchSize: 10, resetSeeds: true}));
    const again = asClassification(await tfv.predictive(model, xs, {samples: 5, batchSize: 10, resetSeeds: true}));
    expect(Array.from(again.probs.dataSync())).toEqual(Array.from(one.probs.dataSync()));
    for (const batchSize of [3, 4, 1]) {
      const split = asClassification(await tfv.predictive(model, xs, {samples: 5, batchSize, resetSeeds: true}));
      expectClose(split.probs, one.probs, 1e-5, 1e-6);
      expectClose(split.mutualInformation, one.mutualInformation, 1e-4, 1e-6);
      expectClose(split.expectedEntropy, one.expectedEntropy, 1e-5, 1e-6);
      tf.dispose([split.probs, split.predictiveEntropy, split.expectedEntropy, split.mutualInformation]);
    }
    // Without resetSeeds the streams run on: fresh draws.
    const fresh = asClassification(await tfv.predictive(model, xs, {samples: 5, batchSize: 10}));
    expect(tf.max(tf.abs(tf.sub(fresh.probs, one.probs))).dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose([xs, ...[one, again, fresh].flatMap((r) => [r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation])]);
  });

  it('gives mutual information 0 for a deterministic model (samples: 1 too) and for the switch in mean mode', async () => {
    const det = tfl.sequential({layers: [tfl.layers.dense({inputShape: [3], units: 4, activation: 'softmax'})]});
    const xs = tf.tensor2d(uniform(18, 21, -2, 2), [6, 3]);
    const direct = det.predict(xs) as tf.Tensor;
    for (const samples of [1, 4]) {
      const r = asClassification(await tfv.predictive(det, xs, {samples, batchSize: 4}));
      expect(Array.from(r.mutualInformation.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
      expectClose(r.probs, direct, 1e-6, 1e-7);
      expectClose(r.expectedEntropy, r.predictiveEntropy, 1e-6, 1e-7);
      tf.dispose([r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
    }
    const bayes = bayesianClassifier();
    tfv.setInferenceMode(bayes, 'mean');
    const m = asClassification(await tfv.predictive(bayes, xs, {samples: 3}));
    expect(Math.max(...Array.from(m.mutualInformation.dataSync()))).toBeLessThan(1e-6);
    tf.dispose([xs, direct, m.probs, m.predictiveEntropy, m.expectedEntropy, m.mutualInformation]);
  });

  it('leaks no tensor', async () => {
    const model = bayesianClassifier('flipout');
    const xs = tf.tensor2d(uniform(15, 3, -1, 1), [5, 3]);
    tf.dispose(model.predict(xs) as tf.Tensor);  // builds the layers
    const before = tf.memory().numTensors;
    const r = asClassification(await tfv.predictive(model, xs, {samples: 4, batchSize: 2}));
    tf.dispose([r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
    const g = await tfv.predictive(cycleModel([[[1, 0]], [[2, 1]]]), indices(1), {samples: 3, task: 'regression', gaussianHead: true});
    tf.dispose([g.mean, g.stddev, g.epistemicStddev!, g.aleatoricStddev!]);
    expect(tf.memory().numTensors).toBe(before + 1);  // indices(1), the cycle model's input
    // An error mid-run (logits where probabilities belong, found at the first pass) frees what the run made.
    const x0 = tfl.input({shape: [3]});
    const logits = tfl.model({inputs: x0, outputs: tfv.layers.bayesianDense({units: 2, numExamples: 5, seed: 4}).apply(x0) as tfl.SymbolicTensor});
    tf.dispose(logits.predict(xs) as tf.Tensor);
    const built = tf.memory().numTensors;
    await expect(tfv.predictive(logits, xs, {samples: 2, batchSize: 2, task: 'classification'})).rejects.toThrow(/fromLogits/);
    expect(tf.memory().numTensors).toBe(built);
    logits.dispose();
    xs.dispose();
  });

  it('reads the task from the output activation or the compiled loss, or asks for it', async () => {
    const x = tfl.input({shape: [2]});
    const linear = tfl.model({inputs: x, outputs: tfl.layers.dense({units: 1}).apply(x) as tfl.SymbolicTensor});
    const logits = tfl.model({inputs: x, outputs: tfl.layers.dense({units: 3}).apply(x) as tfl.SymbolicTensor});
    const sigmoid = tfl.model({inputs: x, outputs: tfl.layers.dense({units: 1, activation: 'sigmoid'}).apply(x) as tfl.SymbolicTensor});
    const xs = tf.tensor2d([[1, 2]]);
    const lin = asRegression(await tfv.predictive(linear, xs, {samples: 1}));
    expect(lin.task).toBe('regression');
    logits.compile({optimizer: 'sgd', loss: tfv.losses.categoricalNLL({fromLogits: true})});
    const cls = asClassification(await tfv.predictive(logits, xs, {samples: 1, fromLogits: true}));
    expect(cls.task).toBe('classification');
    logits.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy'});
    await expect(tfv.predictive(logits, xs, {samples: 1})).rejects.toThrow(/class probabilities.*fromLogits/);
    await expect(tfv.predictive(sigmoid, xs, {samples: 1})).rejects.toThrow(
        /cannot tell whether the model classifies or regresses \(output layer 'dense_\w+' \(Dense, activation 'sigmoid'\); compiled loss: none\). Pass task/);
    await expect(tfv.predictive(cycleModel([[[1]]]), xs, {samples: 1})).rejects.toThrow(/CycleTestLayer.*Pass task/);
    tf.dispose([xs, lin.mean, lin.stddev, cls.probs, cls.predictiveEntropy, cls.expectedEntropy, cls.mutualInformation]);
  });

  it('rejects bad arguments, naming them', async () => {
    const model = bayesianClassifier();
    const xs = tf.tensor2d([[1, 2, 3]]);
    const call = (x: unknown, args: unknown) => tfv.predictive(model, x as tf.Tensor, args as tfv.PredictiveArgs);
    await expect(call(xs, {samples: 0})).rejects.toThrow(/predictive: expected samples to be a positive integer. Received: samples=0/);
    await expect(call(xs, {samples: 2.5})).rejects.toThrow(/Received: samples=2.5/);
    await expect(call(xs, {})).rejects.toThrow(/Received: samples=undefined/);
    await expect(call(xs, {samples: 2, batchSize: -1})).rejects.toThrow(/batchSize to be a positive integer. Received: batchSize=-1/);
    await expect(call(xs, {samples: 2, sample: 3})).rejects.toThrow(/sample/);
    await expect(call(xs, {samples: 2, mode: 'mean'})).rejects.toThrow(/mode/);
    await expect(call(xs, {samples: 2, task: 'ranking'})).rejects.toThrow(/task to be one of 'regression', 'classification'. Received: task='ranking'/);
    await expect(call([[1, 2, 3]], {samples: 2})).rejects.toThrow(/x to be a tf.Tensor or an array of tf.Tensors/);
    await expect(call([xs, xs], {samples: 2})).rejects.toThrow(/one tensor per model input \(1\). Received: 2 tensors/);
    await expect(call(xs, {samples: 2, task: 'regression', fromLogits: true})).rejects.toThrow(/fromLogits applies to task 'classification'/);
    await expect(call(xs, {samples: 2, gaussianHead: true})).rejects.toThrow(/gaussianHead applies to task 'regression'/);
    await expect(call(xs, {samples: 2, resetSeeds: 'yes'})).rejects.toThrow(/resetSeeds to be a boolean/);
    await expect(tfv.predictive({} as never, xs, {samples: 2})).rejects.toThrow(/expected model to be a tf.LayersModel/);
    const flat = tfl.sequential({layers: [tfl.layers.reshape({inputShape: [1], targetShape: []})]});
    const ones = tf.tensor2d([[1]]);
    await expect(tfv.predictive(flat, ones, {samples: 1, task: 'classification'})).rejects.toThrow(
        /task 'classification' expects outputs \[batch, ..., classes\].*Received: output shape=\[1\]/);
    ones.dispose();
    const x0 = tfl.input({shape: [2]});
    const unseeded = tfl.model({inputs: x0, outputs: tfv.layers.reparameterize({name: 'free'}).apply(x0) as tfl.SymbolicTensor});
    const zeros = tf.tensor2d([[0, 0]]);
    await expect(tfv.predictive(unseeded, zeros, {samples: 2, task: 'regression', resetSeeds: true})).rejects.toThrow(
        /resetSeeds: true repeats a run only when every sampling layer has a seed. Received: unseeded layers 'free'/);
    zeros.dispose();
    xs.dispose();
  });
});

/** ∫ f(z) N(z; m, s²) dz by Simpson's rule on m ± 12s (20,000 intervals): error far below the tolerances. */
function gaussianExpectation(f: (z: number) => number, m: number, s: number): number {
  const n = 20000;
  const a = m - 12 * s;
  const h = 24 * s / n;
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    const z = a + i * h;
    const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2;
    sum += w * f(z) * Math.exp(-0.5 * ((z - m) / s) ** 2);
  }
  return sum * h / 3 / (s * Math.sqrt(2 * Math.PI));
}

/**
 * Bernstein's inequality for the mean of S independent draws in an interval
 * of width `range` with variance σ²: P(|mean − μ| ≥ t) ≤ 2 exp(−S t² / (2σ² + 2·range·t/3)).
 * The t for which that is `p` (a bound for every S, no normal approximation).
 */
function bernsteinHalfWidth(samples: number, variance: number, range: number, p: number): number {
  const l = Math.log(2 / p);
  return (range * l / 3 + Math.sqrt((range * l / 3) ** 2 + 2 * variance * samples * l)) / samples;
}

describe('predictive against analytic values (cpu)', () => {
  beforeAll(async () => useBackend('cpu'));

  // z ~ N(m, e^lv) per example by reparameterize: the passes are independent draws, and the rows of one
  // pass are independent (per-row noise).
  const mus = [0.5, -1, 2, 0];
  const logVars = [0, Math.log(0.25), Math.log(4), Math.log(9)];
  const xs = () => tf.tensor2d(mus.map((m, i) => [m, logVars[i]]));

  it('regression: mean and standard deviation of S = 2,000 Gaussian draws', async () => {
    const x = tfl.input({shape: [2]});
    const model = tfl.model({inputs: x, outputs: tfv.layers.reparameterize({seed: 31}).apply(x) as tfl.SymbolicTensor});
    const s = 2000;
    const input = xs();
    const r = await tfv.predictive(model, input, {samples: s, batchSize: 4, task: 'regression'});
    const mean = r.mean.dataSync();
    const sd = r.stddev.dataSync();
    // One assertion of the budget (P_ASSERTION = 1e-8 in all), split over the 4 examples × {mean, variance}:
    // p = 1.25e-9 each. The mean of S normal draws is N(m, σ²/S): |mean − m| ≤ z σ/√S with
    // 2Φ(−z) ≤ 1.25e-9: z = 6.1 (1.06e-9). The variance: S·sd²/σ² is (S − 1)s²/σ² ~ χ²(S − 1), bounded by
    // sampleVarianceRatioBounds (Laurent–Massart, a bound for any S).
    const p = P_ASSERTION / 8;
    const z = 6.1;
    expect(normalTwoSidedTail(z)).toBeLessThanOrEqual(p);
    const {lo, hi} = sampleVarianceRatioBounds(s, p);
    mus.forEach((m, i) => {
      const sigma = Math.exp(logVars[i] / 2);
      expect(Math.abs(mean[i] - m)).toBeLessThan(z * sigma / Math.sqrt(s));
      const ratio = (s * sd[i] ** 2) / ((s - 1) * sigma ** 2);
      expect(ratio).toBeGreaterThan(lo);
      expect(ratio).toBeLessThan(hi);
    });
    tf.dispose([input, r.mean, r.stddev]);
  });

  it('classification: p̄ and E[H] of softmax([z, 0]) against quadrature over S = 2,000 draws', async () => {
    const x = tfl.input({shape: [2]});
    const z = tfv.layers.reparameterize({seed: 47}).apply(x);
    // [z] → logits [z, 0] → softmax: p₀ = σ(z).
    const logits = tfl.layers.dense({units: 2, useBias: false, activation: 'softmax', weights: [tf.tensor2d([[1, 0]])]}).apply(z);
    const model = tfl.model({inputs: x, outputs: logits as tfl.SymbolicTensor});
    const s = 2000;
    const input = xs();
    const r = asClassification(await tfv.predictive(model, input, {samples: s, batchSize: 3}));
    const p0 = Array.from(r.probs.dataSync()).filter((_, i) => i % 2 === 0);
    const eh = r.expectedEntropy.dataSync();
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const ent = (v: number) => {
      const q = sig(v);
      return -(q > 0 ? q * Math.log(q) : 0) - (q < 1 ? (1 - q) * Math.log(1 - q) : 0);
    };
    // One assertion of the budget, split over 4 examples × {p̄₀, E[H]}: p = 1.25e-9 each, by
    // Bernstein's inequality (draws in [0, 1] and [0, log 2], variances by quadrature).
    const p = P_ASSERTION / 8;
    mus.forEach((m, i) => {
      const sd = Math.exp(logVars[i] / 2);
      const ep = gaussianExpectation(sig, m, sd);
      const vp = gaussianExpectation((v) => sig(v) ** 2, m, sd) - ep ** 2;
      const eH = gaussianExpectation(ent, m, sd);
      const vH = gaussianExpectation((v) => ent(v) ** 2, m, sd) - eH ** 2;
      expect(Math.abs(p0[i] - ep)).toBeLessThan(bernsteinHalfWidth(s, vp, 1, p));
      expect(Math.abs(eh[i] - eH)).toBeLessThan(bernsteinHalfWidth(s, vH, LOG2, p));
    });
    // And the identities: I = H[p̄] − E[H] ≥ 0 exactly as computed.
    const hp = r.predictiveEntropy.dataSync();
    const mi = r.mutualInformation.dataSync();
    mus.forEach((_, i) => {
      expect(mi[i]).toBeGreaterThanOrEqual(0);
      expect(mi[i]).toBeCloseTo(Math.max(0, hp[i] - eh[i]), 6);
    });
    tf.dispose([input, r.probs, r.predictiveEntropy, r.expectedEntropy, r.mutualInformation]);
  });
});
