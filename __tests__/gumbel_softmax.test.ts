/**
 * `GumbelSoftmax` (src/layers/gumbel_softmax.ts) and the `RelaxedOneHotCategorical`
 * distribution (src/distributions/relaxed_one_hot_categorical.ts).
 *
 * Values against float64 references written here (the Concrete log-density,
 * the categorical KL, the relaxed sample at fixed noise), gradients against
 * float64 central differences, the straight-through estimator, extreme
 * inputs, a round trip through tf.io, model.fit of a small categorical VAE
 * with the temperature annealed, leaks, and bad input.
 *
 * Every draw is seeded (layer seeds, tf.randomUniform seeds, and Math.random
 * reseeded before each test), so outcomes are fixed on a backend; tfjs draws
 * in JavaScript, so both backends see the same draws. Statistical assertions
 * (docs/testing.md), each with false-failure probability ≤ P_ASSERTION = 1e-8
 * for any seed: per backend 1 (class frequencies of the argmax), 2 (the mean
 * distance from one-hot at τ = 10⁻³ and at τ = 1), 1 (the relaxed KL's
 * Monte Carlo mean against numerical integration) — 4, so 8 on the two backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {RelaxedOneHotCategorical} from '../src/distributions';
import {gumbelNoise} from '../src/distributions/discrete';
import {GumbelSoftmax, gumbelSoftmaxWithNoise} from '../src/layers/gumbel_softmax';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {normalTwoSidedTail, P_ASSERTION, uniform, useSeededMathRandom} from './helpers/random';
import {binaryData, expectFlatTensorCount} from './helpers/vae';

useSeededMathRandom(0x6b5);

// ---------------------------------------------------------------------------
// float64 references
// ---------------------------------------------------------------------------

function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, a) => s + Math.exp(a - m), 0));
}
function logSoftmax64(l: number[]): number[] {
  const z = logSumExp(l);
  return l.map((v) => v - z);
}
function chunk(v: ArrayLike<number>, n: number): number[][] {
  const a = Array.from(v);
  return Array.from({length: a.length / n}, (_, i) => a.slice(i * n, (i + 1) * n));
}
/** log (K−1)! */
function logGamma64(k: number): number {
  let s = 0;
  for (let i = 2; i < k; i++) s += Math.log(i);
  return s;
}
/** The Concrete log-density on the simplex at y = e^x (Maddison et al. 2017), float64. */
function concreteLogDensity64(x: number[], l: number[], tau: number): number {
  const k = l.length;
  const a = l.map((lk, i) => lk - tau * x[i]);
  return logGamma64(k) + (k - 1) * Math.log(tau) + a.reduce((s, ak, i) => s + ak - x[i], 0) - k * logSumExp(a);
}
/** log softmax((l + g)/τ), float64. */
function relaxedLog64(l: number[], g: number[], tau: number): number[] {
  return logSoftmax64(l.map((v, i) => (v + g[i]) / tau));
}
/** KL(Cat(softmax(lq)) ‖ Cat(exp(logP))) in float64. */
function catKL64(lq: number[], logP: number[]): number {
  const a = logSoftmax64(lq);
  return a.reduce((s, v, c) => s + (Math.exp(v) === 0 ? 0 : Math.exp(v) * (v - logP[c])), 0);
}
/** Central differences of f at `x` (float64), step h. */
function centralDiff(f: (x: number[]) => number, x: number[], h = 1e-5): number[] {
  return x.map((_, i) => {
    const p = x.slice();
    const m = x.slice();
    p[i] += h;
    m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}

/** Runs the layer as in a training step and returns the loss it recorded (β · divergence). */
function recordedLoss(layer: GumbelSoftmax, logits: tf.Tensor): number {
  tf.dispose(layer.apply(logits, {training: true}));
  const losses = layer.calculateLosses();
  expect(losses).toHaveLength(1);
  const v = losses[0].dataSync()[0];
  tf.dispose(losses);
  return v;
}

/** A tiny categorical VAE: 16 binary inputs → 4 latents of 3 classes (relaxed) → 16 Bernoulli logits. */
function buildCategoricalVae(opts: {hard?: boolean, kl?: 'categorical'|'relaxed', temperature?: number} = {}): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({seed: 300 + s});
  const x = tfl.input({shape: [16]});
  const h = tfl.layers.dense({units: 16, activation: 'relu', kernelInitializer: init(1)}).apply(x) as tfl.SymbolicTensor;
  const l = tfl.layers.dense({units: 12, kernelInitializer: init(2)}).apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers.reshape({targetShape: [4, 3]}).apply(l) as tfl.SymbolicTensor;
  const z = tfv.layers.gumbelSoftmax({
    temperature: opts.temperature ?? 1, hard: opts.hard ?? false, kl: opts.kl ?? 'categorical', seed: 3, name: 'z',
  }).apply(logits);
  const flat = tfl.layers.flatten().apply(z) as tfl.SymbolicTensor;
  const d = tfl.layers.dense({units: 16, activation: 'relu', kernelInitializer: init(3)}).apply(flat) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({units: 16, kernelInitializer: init(4)}).apply(d) as tfl.SymbolicTensor;
  return tfl.model({inputs: x, outputs: out});
}

const LOGITS = [0.5, -1, 1.5, 0];

describe.each(NODE_BACKENDS)('GumbelSoftmax on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('returns points of the simplex, of the input shape, repeatable with a seed', () => {
    const logits = tf.tensor3d(uniform(2 * 3 * 5, 1, -3, 3), [2, 3, 5]);
    const y = tfv.layers.gumbelSoftmax({temperature: 0.7, seed: 9}).apply(logits);
    expect(y.shape).toEqual([2, 3, 5]);
    const rows = chunk(y.dataSync(), 5);
    expect(rows.every((r) => r.every((v) => v >= 0 && v <= 1))).toBe(true);
    expectClose(rows.map((r) => r.reduce((s, v) => s + v, 0)), rows.map(() => 1), 0, 1e-6);
    const layer = tfv.layers.gumbelSoftmax({temperature: 0.7, seed: 9});
    expect(layer.losses).toHaveLength(1);
    const again = layer.apply(logits);
    expectClose(again, y, 0, 0);
    expect(layer.trainableWeights).toHaveLength(0);
    expect(layer.nonTrainableWeights.map((w) => w.name.split('/').pop())).toEqual(['temperature', 'kl_weight']);
    expect(layer.computeOutputShape([null, 3, 5])).toEqual([null, 3, 5]);
    // In a tf.sequential model (which hands the input shape over as a list of one).
    const seq = tfl.sequential({layers: [tfv.layers.gumbelSoftmax({inputShape: [3, 5], inferenceMode: 'mode'})]});
    const modeOut = seq.predict(logits) as tf.Tensor;
    expect(chunk(modeOut.dataSync(), 5).every((r) => r.reduce((a, b) => a + b, 0) === 1)).toBe(true);
    tf.dispose([logits, y, again, modeOut]);
  });

  it('equals softmax((l + g)/τ) at the layer\'s own noise, and approaches one_hot(argmax(l + g)) as τ → 0 within the exact bound', () => {
    const shape = [6, 4];
    const lv = uniform(24, 2, -2, 2);
    const g = tf.tidy(() => Array.from(gumbelNoise(shape, deriveSeed(5, 0)).dataSync()));
    const logits = tf.tensor2d(lv, [6, 4]);
    for (const tau of [2, 0.5, 0.1, 0.01, 1e-3]) {
      const y = tfv.layers.gumbelSoftmax({temperature: tau, seed: 5}).apply(logits);
      const rows = chunk(y.dataSync(), 4);
      const ref = chunk(lv, 4).map((l, b) => relaxedLog64(l, g.slice(4 * b, 4 * b + 4), Math.fround(tau)).map(Math.exp));
      expectClose(rows.flat(), ref.flat(), 1e-4, 1e-6);
      // 1 − max y = Σ_{j≠max} y_j ≤ Σ_{j≠max} e^{(s_j − s_max)/τ}: the distance from the one-hot vector shrinks like e^{−gap/τ}.
      rows.forEach((r, b) => {
        const s = chunk(lv, 4)[b].map((v, i) => v + g[4 * b + i]);
        const top = s.indexOf(Math.max(...s));
        const bound = s.reduce((acc, v, i) => i === top ? acc : acc + Math.exp((v - s[top]) / tau), 0);
        expect(r.indexOf(Math.max(...r))).toBe(top);
        expect(1 - r[top]).toBeLessThanOrEqual(bound * (1 + 1e-3) + 2e-6);
      });
      y.dispose();
    }
    logits.dispose();
  });

  it('as τ → 0 samples approach one-hot: the mean of 1 − max y over 20,000 draws (2 statistical assertions, Hoeffding)', () => {
    const n = 20000;
    const logits = tf.tile(tf.tensor2d([LOGITS]), [n, 1]);
    const means: number[] = [];
    for (const tau of [1, 0.1, 0.01, 1e-3]) {
      // One seed for every τ: the same noise, so max y grows as τ falls draw by draw (deterministically).
      const y = tfv.layers.gumbelSoftmax({temperature: tau, seed: 17}).apply(logits);
      const maxes = tf.tidy(() => Array.from(tf.max(y, -1).dataSync()));
      means.push(maxes.reduce((s, m) => s + (1 - m), 0) / n);
      y.dispose();
    }
    expect(means.every((m, i) => i === 0 || m <= means[i - 1] + 1e-7)).toBe(true);
    // 1 − max y ∈ [0, 1 − 1/K] = [0, 0.75]: by Hoeffding P(|mean − E| ≥ t) ≤ 2·exp(−2nt²/0.75²) = 1e-8 at t = 0.0166
    // (each of the two assertions). E[1 − max y] ≈ 0.4·τ for these logits (float64 Monte Carlo: 0.345 at τ = 1,
    // 4.0e-4 at τ = 10⁻³), so the mean is below 0.02 at τ = 10⁻³ and above 0.3 at τ = 1.
    const t = 0.75 * Math.sqrt(Math.log(2 / P_ASSERTION) / (2 * n));
    expect(t).toBeLessThan(0.017);
    expect(means[3]).toBeLessThan(0.02);
    expect(means[0]).toBeGreaterThan(0.3);
    logits.dispose();
  });

  it('class frequencies of the argmax match softmax(logits) (40,000 seeded draws; 1 statistical assertion), the same at every τ', () => {
    const n = 40000;
    const p = logSoftmax64(LOGITS).map(Math.exp);
    const logits = tf.tile(tf.tensor2d([LOGITS]), [n, 1]);
    const y = tfv.layers.gumbelSoftmax({temperature: 0.05, hard: true, seed: 23}).apply(logits);
    const counts = [0, 0, 0, 0];
    chunk(y.dataSync(), 4).forEach((r) => counts[r.indexOf(1)]++);
    // Each count is Binomial(n, p_c): z_c = |f_c − p_c|/√(p_c(1 − p_c)/n). Four classes share the budget: each two-sided
    // tail at z = 6.5 is 8.0e-11, 4 × 8.0e-11 ≤ 1e-8 with room for the binomial's skewness (1 − 2p)/√(np(1 − p)) ≤ 0.021
    // here, whose Cornish–Fisher shift of the quantile, γ(z² − 1)/6 ≤ 0.15, still leaves z = 6.35: 4 × 2.2e-10.
    const z = 6.5;
    const gamma = Math.max(...p.map((pc) => Math.abs(1 - 2 * pc) / Math.sqrt(n * pc * (1 - pc))));
    expect(4 * normalTwoSidedTail(z - gamma * (z * z - 1) / 6)).toBeLessThan(P_ASSERTION);
    const zs = p.map((pc, c) => Math.abs(counts[c] / n - pc) / Math.sqrt(pc * (1 - pc) / n));
    expect(Math.max(...zs)).toBeLessThan(z);
    // argmax y = argmax(l + g) whatever τ: with the same noise, the classes drawn at τ = 5 are the same (deterministic).
    const warm = tfv.layers.gumbelSoftmax({temperature: 5, seed: 23}).apply(logits);
    const classes = (t: tf.Tensor) => tf.tidy(() => Array.from(tf.argMax(t, -1).dataSync()));
    expect(classes(warm)).toEqual(classes(y));
    tf.dispose([logits, y, warm]);
  });

  it('straight-through: the output is exactly one-hot, at the relaxed sample\'s argmax, and its gradient is the relaxed sample\'s', () => {
    const lv = uniform(3 * 2 * 5, 4, -2, 2);
    const logits = tf.tensor3d(lv, [3, 2, 5]);
    const w = tf.tensor3d(uniform(30, 5, -1, 1), [3, 2, 5]);
    const soft = tfv.layers.gumbelSoftmax({temperature: 0.5, seed: 31});
    const hard = tfv.layers.gumbelSoftmax({temperature: 0.5, seed: 31, hard: true});
    const ys = soft.apply(logits);
    const yh = hard.apply(logits);
    const hv = chunk(yh.dataSync(), 5);
    const sv = chunk(ys.dataSync(), 5);
    expect(hv.every((r) => r.filter((v) => v === 1).length === 1 && r.filter((v) => v === 0).length === 4)).toBe(true);
    expect(hv.map((r) => r.indexOf(1))).toEqual(sv.map((r) => r.indexOf(Math.max(...r))));
    soft.resetSeed();
    hard.resetSeed();
    const gSoft = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(w, soft.apply(l))))(logits);
    const gHard = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(w, hard.apply(l))))(logits);
    expectClose(gHard, gSoft, 0, 0);
    expect(Math.max(...Array.from(gSoft.dataSync(), Math.abs))).toBeGreaterThan(1e-3);
    tf.dispose([logits, w, ys, yh, gSoft, gHard]);
  });

  it('the relaxed sample\'s gradient w.r.t. the logits at fixed noise equals float64 central differences', () => {
    const lv = uniform(8, 6, -2, 2);
    const gv = tf.tidy(() => Array.from(gumbelNoise([2, 4], 77).dataSync()));
    const wv = uniform(8, 7, -1, 1);
    for (const tau of [1, 0.3]) {
      const f64 = (l: number[]) => [0, 1].reduce((s, b) => s + relaxedLog64(l.slice(4 * b, 4 * b + 4), gv.slice(4 * b, 4 * b + 4), tau)
          .reduce((a, x, i) => a + wv[4 * b + i] * Math.exp(x), 0), 0);
      const g = tf.tidy(() => tf.grad((l: tf.Tensor) =>
        tf.sum(tf.mul(tf.tensor2d(wv, [2, 4]), gumbelSoftmaxWithNoise(l, tf.tensor2d(gv, [2, 4]), tau))))(tf.tensor2d(lv, [2, 4])));
      expectClose(g, centralDiff(f64, lv), 1e-3, 1e-5);
      g.dispose();
    }
  });

  it('adds the categorical KL to uniform and to a given prior (per example, summed over positions, batch mean) as float64', () => {
    const [B, P, K] = [3, 2, 4];
    const lv = uniform(B * P * K, 8, -3, 3);
    const logits = tf.tensor3d(lv, [B, P, K]);
    const rows = chunk(lv, K);
    const uniformRef = rows.reduce((s, l) => s + catKL64(l, l.map(() => -Math.log(K))), 0) / B;
    const probs = [0.1, 0.2, 0.3, 0.4];
    const priorLogits = [1, -0.5, 0, 2];
    const probsRef = rows.reduce((s, l) => s + catKL64(l, probs.map(Math.log)), 0) / B;
    const logitsRef = rows.reduce((s, l) => s + catKL64(l, logSoftmax64(priorLogits)), 0) / B;
    expectClose(recordedLoss(tfv.layers.gumbelSoftmax(), logits), uniformRef, 1e-5, 1e-6);
    expectClose(recordedLoss(tfv.layers.gumbelSoftmax({prior: {probs}}), logits), probsRef, 1e-5, 1e-6);
    expectClose(recordedLoss(tfv.layers.gumbelSoftmax({prior: {logits: priorLogits}, weight: 0.25}), logits), 0.25 * logitsRef, 1e-5, 1e-6);
    // The logged term is the divergence without β.
    const layer = tfv.layers.gumbelSoftmax({prior: {probs}, weight: 0.5, hard: true, seed: 1});
    tf.dispose(layer.apply(logits, {training: true}));
    const term = layer.currentDivergence();
    expectClose(term.dataSync()[0], probsRef, 1e-5, 1e-6);
    tf.dispose([term, ...layer.calculateLosses(), logits]);
    layer.dispose();
  });

  it('the categorical KL\'s gradient w.r.t. the logits equals float64 central differences', () => {
    const lv = uniform(2 * 3, 9, -2, 2);
    const probs = [0.2, 0.5, 0.3];
    const layer = tfv.layers.gumbelSoftmax({prior: {probs}, seed: 2});
    const g = tf.grad((l: tf.Tensor) => {
      tf.dispose(layer.apply(l, {training: true}));
      return layer.calculateLosses()[0];
    })(tf.tensor2d(lv, [2, 3]));
    const f64 = (l: number[]) => (catKL64(l.slice(0, 3), probs.map(Math.log)) + catKL64(l.slice(3), probs.map(Math.log))) / 2;
    expectClose(g, centralDiff(f64, lv), 1e-3, 1e-5);
    g.dispose();
    layer.dispose();
  });

  it('the relaxed KL is log q_τ(y) − log p_λ(y) at the drawn y, and its gradient at fixed noise equals float64 central differences', () => {
    const lv = uniform(2 * 3, 10, -2, 2);
    const priorLogits = [0.5, 0, -0.5];
    const [tau, lambda, seed] = [0.6, 0.4, 12];
    // The layer's first draw uses the seed deriveSeed(seed, 0).
    const gv = tf.tidy(() => Array.from(gumbelNoise([2, 3], deriveSeed(seed, 0)).dataSync()));
    const f64 = (l: number[]) => [0, 1].reduce((s, b) => {
      const lb = l.slice(3 * b, 3 * b + 3);
      const x = relaxedLog64(lb, gv.slice(3 * b, 3 * b + 3), Math.fround(tau));
      return s + concreteLogDensity64(x, lb, Math.fround(tau)) - concreteLogDensity64(x, priorLogits, lambda);
    }, 0) / 2;
    const layer = tfv.layers.gumbelSoftmax({temperature: tau, kl: 'relaxed', prior: {logits: priorLogits}, priorTemperature: lambda, seed});
    expectClose(recordedLoss(layer, tf.tensor2d(lv, [2, 3])), f64(lv), 1e-4, 1e-5);
    layer.resetSeed();
    const g = tf.grad((l: tf.Tensor) => {
      tf.dispose(layer.apply(l, {training: true}));
      return layer.calculateLosses()[0];
    })(tf.tensor2d(lv, [2, 3]));
    expectClose(g, centralDiff(f64, lv), 2e-3, 1e-4);
    g.dispose();
    layer.dispose();
  });

  it('the relaxed KL\'s Monte Carlo mean matches the integral of q log(q/p) on the 1-simplex (50,000 rows; 1 statistical assertion)', () => {
    const n = 50000;
    const l = [0.8, -0.5];
    const probs = [0.3, 0.7];
    const [tau, lambda] = [1, 0.5];
    // On K = 2 the log-ratio is a function of t = x₁ − x₂ (y₁ = σ(t)); integrate against the density of t,
    // q(y(t))·σ(t)σ(−t) (the Jacobian of y₁ = σ(t)), on a fine grid: its tails fall as e^{−τ|t|}.
    const logSig = (t: number) => -Math.log1p(Math.exp(-t));
    let [m0, m1, m2, m3] = [0, 0, 0, 0];
    const h = 1e-3;
    for (let t = -80; t <= 80; t += h) {
      const x = [logSig(t), logSig(-t)];
      const w = Math.exp(concreteLogDensity64(x, l, tau) + x[0] + x[1]) * h;
      const r = concreteLogDensity64(x, l, tau) - concreteLogDensity64(x, probs.map(Math.log), lambda);
      [m0, m1, m2, m3] = [m0 + w, m1 + w * r, m2 + w * r * r, m3 + w * r * r * r];
    }
    expect(Math.abs(m0 - 1)).toBeLessThan(1e-6);
    const klRef = m1;
    const variance = m2 - m1 * m1;
    const third = m3 - 3 * m1 * m2 + 2 * m1 ** 3;
    const layer = tfv.layers.gumbelSoftmax({temperature: tau, kl: 'relaxed', prior: {probs}, priorTemperature: lambda, seed: 41});
    const logits = tf.tile(tf.tensor2d([l]), [n, 1]);
    const estimate = recordedLoss(layer, logits);
    // The mean of n independent log-ratios: standard error √(Var/n), skewness γ = κ₃/(σ³√n); at z = 6 the Cornish–Fisher
    // shift γ(z² − 1)/6 is computed and taken off z, and the tail at the shifted z fits the budget.
    const se = Math.sqrt(variance / n);
    const gamma = Math.abs(third) / (variance ** 1.5 * Math.sqrt(n));
    const z = 6;
    expect(normalTwoSidedTail(z - gamma * (z * z - 1) / 6)).toBeLessThan(P_ASSERTION);
    expect(Math.abs(estimate - klRef)).toBeLessThan(z * se);
    tf.dispose(logits);
    layer.dispose();
  });

  it('stays finite at logits ±1e4 and τ = 1e-3: samples, both KLs and their gradients', () => {
    const lv = [1e4, -1e4, 0, 1e4, -1e4, -1e4, 5e3, -5e3, 0, 1, 2, 3];
    const logits = tf.tensor2d(lv, [3, 4]);
    for (const kl of ['categorical', 'relaxed'] as const) {
      for (const hard of [false, true]) {
        const layer = tfv.layers.gumbelSoftmax({temperature: 1e-3, kl, hard, seed: 3});
        const loss = recordedLoss(layer, logits);
        expect(Number.isFinite(loss)).toBe(true);
        const y = layer.apply(logits);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        const g = tf.grad((l: tf.Tensor) => {
          const out = layer.apply(l, {training: true});
          return tf.add(tf.sum(tf.mul(out, tf.reshape(tf.range(0, 12), [3, 4]))), layer.calculateLosses()[0]);
        })(logits);
        expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
        tf.dispose([y, g]);
        layer.dispose();
      }
    }
    const d = new RelaxedOneHotCategorical({temperature: 1e-3, logits: [[1e4, -1e4, 0], [0, 0, 1e-4]]});
    const [ys, lp] = d.sampleAndLogProb([5], 4);
    expect(Array.from(ys.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Array.from(lp.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([ys, lp, logits]);
  });

  it('at inference: samples by default, or the one-hot mode, or softmax(l); predict records nothing', () => {
    const lv = [0.1, 2, -1, 3, 0, 0.5];
    const logits = tf.tensor2d(lv, [2, 3]);
    const layer = tfv.layers.gumbelSoftmax({inferenceMode: 'mode', hard: true, seed: 1});
    const mode = layer.apply(logits);
    expectClose(mode, tf.tensor2d([0, 1, 0, 1, 0, 0], [2, 3]), 0, 0);
    layer.inferenceMode = 'mean';
    const mean = layer.apply(logits);
    expectClose(mean, chunk(lv, 3).flatMap((r) => logSoftmax64(r).map(Math.exp)), 1e-5, 1e-7);
    layer.inferenceMode = 'sample';
    const sample = layer.apply(logits);
    expect(Array.from(sample.dataSync()).filter((v) => v === 1)).toHaveLength(2);
    expect(() => { layer.inferenceMode = 'argmax' as 'mode'; }).toThrow(/inferenceMode.*'sample', 'mode', 'mean'.*'argmax'/);
    const [nothing] = layer.calculateLosses();
    expect(nothing.dataSync()[0]).toBe(0);
    // In training it samples whatever the mode.
    layer.inferenceMode = 'mode';
    const trained = layer.apply(logits, {training: true});
    expect(layer.getConfig()['inferenceMode']).toBe('mode');
    tf.dispose([logits, mode, mean, sample, nothing, trained, ...layer.calculateLosses()]);
    layer.dispose();
  });

  it.each([false, true])('trains a categorical VAE (hard: %s) with model.fit, τ annealed per batch (loss down, τ logged and kept)', async (hard) => {
    const model = buildCategoricalVae({hard});
    model.compile({optimizer: tf.train.adam(0.01), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(64, 16, 3);
    const z = model.getLayer('z') as GumbelSoftmax;
    const seen: number[] = [];
    const hist = await model.fit(x, x, {
      epochs: 8, batchSize: 16, verbose: 0,
      callbacks: [tfv.callbacks.temperatureAnnealing({rate: 0.05, minTemperature: 0.5, every: 2}),
        new tfl.CustomCallback({onBatchEnd: async () => { seen.push(z.getTemperature()); }})],
    });
    const loss = hist.history['loss'] as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
    expect(seen).toHaveLength(32);
    const expected = seen.map((_, step) => Math.max(0.5, Math.exp(-0.05 * 2 * Math.floor(step / 2))));
    expectClose(seen, expected, 1e-6, 0);
    expectClose(hist.history['temperature'] as number[], [0, 1, 2, 3, 4, 5, 6, 7].map((e) => expected[4 * e + 3]), 1e-6, 0);
    expect(hist.history['kl']).toHaveLength(8);
    expect(z.getTemperature()).toBeCloseTo(0.5, 6);
    x.dispose();
  });

  it('the full-objective evaluation adds the categorical KL (deterministic in the logits)', async () => {
    const x = tfl.input({shape: [2, 3]});
    const z = tfv.layers.gumbelSoftmax({prior: {probs: [0.2, 0.3, 0.5]}, inferenceMode: 'mean', name: 'z'}).apply(x);
    const model = tfl.model({inputs: x, outputs: z});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    const lv = uniform(12, 14, -2, 2);
    const xs = tf.tensor3d(lv, [2, 2, 3]);
    const r = await tfv.evaluateObjective(model, xs, tf.zeros([2, 2, 3]));
    const ref = chunk(lv, 3).reduce((s, l) => s + catKL64(l, [0.2, 0.3, 0.5].map(Math.log)), 0) / 2;
    expectClose(r.layerLosses, ref, 1e-5, 1e-6);
    xs.dispose();
  });

  it('keeps the tensor count flat over 50 training steps and 50 predicts (straight-through, relaxed KL)', async () => {
    const model = buildCategoricalVae({hard: true, kl: 'relaxed', temperature: 0.7});
    model.compile({optimizer: tf.train.adam(0.01), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(100, 16, 5);
    expect(await expectFlatTensorCount(model, x)).toEqual([100, 16]);
    x.dispose();
  });

  it('round-trips a model through tf.io: config (temperature included) and the annealed temperature kept', async () => {
    const x = tfl.input({shape: [3, 4]});
    const layer = tfv.layers.gumbelSoftmax({
      temperature: 0.8, hard: true, prior: {probs: [0.1, 0.2, 0.3, 0.4]}, weight: 0.5, kl: 'relaxed', priorTemperature: 0.3,
      inferenceMode: 'sample', seed: 7, name: 'z',
    });
    const model = tfl.model({inputs: x, outputs: layer.apply(x)});
    layer.setTemperature(0.6);
    layer.setKLWeight(0.25);
    const loaded = await roundTripInMemory(model);
    const copy = loaded.getLayer('z') as GumbelSoftmax;
    expect(copy).toBeInstanceOf(GumbelSoftmax);
    expect(copy.getConfig()).toEqual(layer.getConfig());
    expect(layer.getConfig()).toMatchObject({temperature: 0.8, hard: true, prior: {probs: [0.1, 0.2, 0.3, 0.4]}, weight: 0.5,
      kl: 'relaxed', priorTemperature: 0.3, inferenceMode: 'sample', seed: 7});
    expect(copy.getTemperature()).toBe(Math.fround(0.6));
    expect(copy.getKLWeight()).toBe(0.25);
    const xs = tf.tensor3d(uniform(24, 3, -1, 1), [2, 3, 4]);
    layer.resetSeed();
    const a = model.predict(xs) as tf.Tensor;
    const b = loaded.predict(xs) as tf.Tensor;
    expectClose(b, a, 0, 0);
    expect(tf.serialization.getRegisteredName(GumbelSoftmax)).toBe('tfv>GumbelSoftmax');
    tf.dispose([xs, a, b]);
  });
});

describe.each(NODE_BACKENDS)('RelaxedOneHotCategorical on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('logProb and logProbFromLog against the float64 Concrete density; sampleAndLogProb agrees with logProb', () => {
    const l = [[0.3, -1, 2], [0, 0, 0]];
    const ys = [[0.2, 0.3, 0.5], [0.01, 0.98, 0.01]];
    for (const tau of [0.1, 0.5, 1, 3]) {
      const d = new RelaxedOneHotCategorical({temperature: tau, logits: l});
      const lp = d.logProb(tf.tensor2d(ys));
      const ref = ys.map((y, b) => concreteLogDensity64(y.map((v) => Math.log(Math.fround(v))), l[b], tau));
      expectClose(lp, ref, 1e-5, 1e-4);
      const lpl = d.logProbFromLog(tf.log(tf.tensor2d(ys)));
      expectClose(lpl, ref, 1e-5, 1e-4);
      const [y, lps] = d.sampleAndLogProb([3], 11);
      expect(y.shape).toEqual([3, 2, 3]);
      expect(lps.shape).toEqual([3, 2]);
      const again = d.logProb(y);
      expectClose(again, lps, 1e-4, 1e-3);
      tf.dispose([lp, lpl, y, lps, again]);
    }
    // A temperature per batch element, as a tensor: each row's density at its own τ.
    const taus = tf.tensor1d([0.3, 2]);
    const perRow = new RelaxedOneHotCategorical({temperature: taus, logits: l}).logProb(tf.tensor2d(ys));
    expectClose(perRow, ys.map((y, b) => concreteLogDensity64(y.map((v) => Math.log(Math.fround(v))), l[b], [0.3, 2][b])), 1e-5, 1e-4);
    tf.dispose([taus, perRow]);
    // From probabilities: the same density as from their logarithms.
    const probs = [0.2, 0.5, 0.3];
    const a = new RelaxedOneHotCategorical({temperature: 0.7, probs}).logProb(tf.tensor1d([0.1, 0.6, 0.3]));
    const b = new RelaxedOneHotCategorical({temperature: 0.7, logits: probs.map(Math.log)}).logProb(tf.tensor1d([0.1, 0.6, 0.3]));
    expectClose(a, b, 1e-6, 1e-6);
    tf.dispose([a, b]);
  });

  it('integrates to 1 on the 1-simplex (K = 2), for τ below, at and above 1', () => {
    // y₁ = σ(t): ∫ p(y₁) dy₁ = ∫ p(y(t)) σ(t)σ(−t) dt, with log y from logProbFromLog's own log-space input.
    const h = 0.01;
    const ts = Array.from({length: Math.round(240 / h) + 1}, (_, i) => -120 + i * h);
    for (const tau of [0.5, 1, 2]) {
      const d = new RelaxedOneHotCategorical({temperature: tau, logits: [0.4, -0.3]});
      const total = tf.tidy(() => {
        const t = tf.tensor1d(ts);
        const x = tf.stack([tf.neg(tf.softplus(tf.neg(t))), tf.neg(tf.softplus(t))], 1);
        return tf.sum(tf.mul(tf.exp(tf.add(d.logProbFromLog(x), tf.sum(x, 1))), h)).dataSync()[0];
      });
      expect(Math.abs(total - 1)).toBeLessThan(1e-4);
    }
  });

  it('event axes, serialization, registration, and kl with the Monte Carlo fallback', () => {
    const d = new RelaxedOneHotCategorical({temperature: 0.5, logits: [[[0, 1], [1, 0], [2, 2]]], eventRank: 1});
    expect(d.batchShape).toEqual([1]);
    expect(d.eventShape).toEqual([3, 2]);
    expect(d.reparameterized).toBe(true);
    const [y, lp] = d.sampleAndLogProb([4], 2);
    expect(y.shape).toEqual([4, 1, 3, 2]);
    expect(lp.shape).toEqual([4, 1]);
    const config = d.getConfig();
    expect(config).toEqual({temperature: 0.5, logits: [[[0, 1], [1, 0], [2, 2]]], eventRank: 1});
    const copy = RelaxedOneHotCategorical.fromConfig(RelaxedOneHotCategorical, config) as RelaxedOneHotCategorical;
    expect(copy.getConfig()).toEqual(config);
    expect(tf.serialization.getRegisteredName(RelaxedOneHotCategorical)).toBe('tfv>RelaxedOneHotCategorical');
    const q = new RelaxedOneHotCategorical({temperature: 1, logits: [0.5, 0]});
    expect(() => tfv.distributions.kl(q, new RelaxedOneHotCategorical({temperature: 1, logits: [0, 0]}))).toThrow(/monteCarlo/);
    const k = tfv.distributions.kl(q, new RelaxedOneHotCategorical({temperature: 1, logits: [0, 0]}), {monteCarlo: {samples: 100, seed: 1}});
    expect(k.shape).toEqual([]);
    expect(Number.isFinite(k.dataSync()[0])).toBe(true);
    expect(() => d.mean()).toThrow(/no closed form/);
    expect(() => new RelaxedOneHotCategorical({temperature: tf.scalar(1), logits: [0, 1]}).getConfig()).toThrow(/not serializable/);
    tf.dispose([y, lp, k]);
  });
});

describe('bad input: errors name the argument and the value received', () => {
  beforeAll(async () => useBackend('cpu'));

  it('rejects τ ≤ 0, K < 2, priors of the wrong length or sum, unknown options and misplaced ones', () => {
    expect(() => tfv.layers.gumbelSoftmax({temperature: 0})).toThrow(/temperature to be a positive number. Received: temperature=0/);
    expect(() => tfv.layers.gumbelSoftmax({temperature: -1})).toThrow(/temperature=-1/);
    expect(() => tfv.layers.gumbelSoftmax({temperatur: 1} as never)).toThrow(/unknown option 'temperatur'/);
    expect(() => tfv.layers.gumbelSoftmax({kl: 'mc' as 'relaxed'})).toThrow(/kl to be one of 'categorical', 'relaxed'/);
    expect(() => tfv.layers.gumbelSoftmax({priorTemperature: 0.5})).toThrow(/priorTemperature.*kl: 'relaxed'/);
    expect(() => tfv.layers.gumbelSoftmax({hard: 1 as unknown as boolean})).toThrow(/hard to be a boolean/);
    expect(() => tfv.layers.gumbelSoftmax({prior: {probs: [0.5, 0.6]}})).toThrow(/sum to 1/);
    expect(() => tfv.layers.gumbelSoftmax({prior: {probs: [1, 0]}})).toThrow(/positive numbers/);
    expect(() => tfv.layers.gumbelSoftmax({prior: {probs: [0.5, 0.5], logits: [0, 0]} as never})).toThrow(/prior/);
    expect(() => tfv.layers.gumbelSoftmax({prior: 'normal' as 'uniform'})).toThrow(/prior to be 'uniform'/);
    const wrongLength = tfv.layers.gumbelSoftmax({prior: {probs: [0.5, 0.5]}});
    expect(() => wrongLength.apply(tf.zeros([2, 3]))).toThrow(/prior.probs to have K = 3 entries.*length 2/);
    expect(() => tfv.layers.gumbelSoftmax().apply(tf.zeros([2, 1]))).toThrow(/K >= 2.*\[2,1\]/);
    expect(() => tfv.layers.gumbelSoftmax().apply(tf.zeros([4]))).toThrow(/\[batch, \.\.\., K\]/);
    expect(() => tfv.layers.gumbelSoftmax().apply(tfl.input({shape: [null as unknown as number]}))).toThrow(/K >= 2/);
    const layer = tfv.layers.gumbelSoftmax();
    expect(() => layer.setTemperature(0.5)).toThrow(/not built yet/);
    tf.dispose(layer.apply(tf.zeros([1, 2])));
    expect(() => layer.setTemperature(0)).toThrow(/setTemperature: expected temperature to be a positive number/);
    expect(() => layer.setTemperature(NaN)).toThrow(/temperature=NaN/);
    expect(() => new RelaxedOneHotCategorical({temperature: 0, logits: [0, 1]})).toThrow(/temperature to be a positive finite number/);
    expect(() => new RelaxedOneHotCategorical({logits: [0, 1]} as never)).toThrow(/temperature/);
    expect(() => new RelaxedOneHotCategorical({temperature: 1, logits: [0, 1], scale: 2} as never)).toThrow(/unknown option 'scale'/);
    expect(() => new RelaxedOneHotCategorical({temperature: [1, 2, 3], logits: [[0, 1], [1, 0]]})).toThrow(/broadcast/);
  });
});
