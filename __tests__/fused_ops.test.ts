/**
 * The fused element-wise passes of the weight posterior
 * (src/perf/posterior_kernels.ts, run by softplusScale, normalKL with number
 * prior parameters, normalLogProbOfNoise with a tensor scale and
 * ScaleMixturePrior.logProb on the wasm backend while the fast wasm kernels
 * are on): values and gradients against float64 references at the extremes
 * (the corners of numerics.test.ts) and random inputs, the same as the tfjs
 * ops of the cpu backend within float32 rounding, the fused path taken only
 * where it should be, no leak, and BayesianDense training on both backends.
 * Also the fused sample-and-divergence ops of the Bayesian layers
 * (src/layers/variational/fused_sample.ts, Gaussian and scale-mixture priors):
 * float64 references, the tfjs ops, finite differences, leaks, shape errors,
 * and seeded layers giving the same outputs, losses and gradients fused and not.
 * And flipout's sign products (src/layers/variational/fused_flipout.ts): equal
 * to tf.mul and tf.add bit for bit, fused only where they should be, no leak.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {expectNear, f32, FUSED_SETUPS, mixture64, randomInputs, sigmoid64, softplus64, ULP, useFusedSetup} from './helpers/float64';
import {values as uniformValues} from './helpers/random';
import {HALF_LOG_TWO_PI, normalKL, normalLogProbOfNoise, SCALE_FLOOR, softplusScale} from '../src/distributions/normal';
import {bayesianDense} from '../src/layers/bayesian_dense';
import {addFlipped, flipSigns, fusedSignProductCalls} from '../src/layers/variational/fused_flipout';
import {fusedSampleCalls, mixtureSampleAndKL, normalSampleAndKL} from '../src/layers/variational/fused_sample';
import '../src/priors';
import {disableFastWasmKernels, enableFastWasmKernels} from '../src/perf';
import {posteriorKernelPasses, posteriorKernels} from '../src/perf/posterior_kernels';
import {gaussian as tfvGaussian} from '../src/priors/gaussian';
import {ScaleMixturePrior} from '../src/priors/scale_mixture';

// ------------------------------------------------------------ inputs (float64 references: helpers/float64.ts)

/** ρ: the corners of numerics.test.ts (±1e3, ±3e38, 0, −20), both sides of the exp cut-off (−87.3), and a spread. */
const RHO = [-3e38, -1e3, -100, -87.5, -87.3, -20, -5, -3, -1e-3, 0, 1e-3, 1, 5, 20, 88, 100, 1e3, 3e38].map(f32);
/** σ > 0: the floor, tiny (1e-30, a subnormal 1e-40), 1, 1e3, 2e19 (½σ² = 2e38 still fits) and 1e30. */
const SIGMA = [f32(SCALE_FLOOR), 1e-40, 1e-30, 1e-3, 0.05, 1, 1e3, 2e19, 1e30].map(f32);
const MU = [0, -1e4, 1e4, 0.5, -3, 1e-20, 7, 1e19, -1e19].map(f32);

describe('the fused passes on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
  });
  afterAll(() => {
    disableFastWasmKernels();
  });

  it('run on the wasm backend (and are counted)', () => {
    const x = tf.ones([5]);
    expect(posteriorKernels(x)).not.toBeNull();
    const before = posteriorKernelPasses();
    tf.tidy(() => softplusScale(x));
    expect(posteriorKernelPasses()).toBe(before + 1);
    // Not for other dtypes or mixed shapes.
    expect(posteriorKernels(x, tf.ones([4]))).toBeNull();
    expect(posteriorKernels(tf.ones([5], 'int32'))).toBeNull();
    tf.dispose(x);
  });

  it('softplusScale: σ and dσ/dρ = sigmoid(ρ) at the corners and over a spread, tails of 1 to 3 elements', () => {
    for (const rho of [RHO, RHO.slice(0, 1), RHO.slice(0, 3), RHO.slice(0, 5), randomInputs(1001, 1, -30, 30)]) {
      const before = posteriorKernelPasses();
      const [value, grad] = tf.tidy(() => {
        const r = tf.tensor1d(rho);
        const g = tf.grad((t: tf.Tensor) => softplusScale(t))(r);
        return [softplusScale(r).dataSync(), g.dataSync()];
      });
      expect(posteriorKernelPasses()).toBeGreaterThanOrEqual(before + 3);
      // softplus within 3 ulps (its exp and log1p polynomials), plus the floor's rounding.
      expectNear('σ', value, rho.map((r) => softplus64(r) + SCALE_FLOOR), 4 * ULP);
      // sigmoid: a division and an exp; the exp flushes results below e^−87 = 1.65e-38 to 0 (at most 1.4 times
      // the smallest normal float, so no subnormal is ever formed): an absolute error below 1.65e-38.
      expectNear('dσ/dρ', grad, rho.map(sigmoid64), 4 * ULP, 1.65e-38);
    }
  });

  it('normalKL with number prior parameters: value and gradients at the corners', () => {
    const loc: number[] = [];
    const scale: number[] = [];
    for (const m of MU) for (const s of SIGMA) { loc.push(m); scale.push(s); }
    for (const [locP, scaleP] of [[0, 1], [0.5, 0.1], [0, 1e-3], [-2, 1e20]] as const) {
      const c = 1 / scaleP;
      const before = posteriorKernelPasses();
      const [value, dLoc, dScale] = tf.tidy(() => {
        const mu = tf.tensor1d(loc);
        const sigma = tf.tensor1d(scale);
        const [gm, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => normalKL(a, b, locP, scaleP))([mu, sigma]);
        return [normalKL(mu, sigma, locP, scaleP).dataSync(), gm.dataSync(), gs.dataSync()];
      });
      expect(posteriorKernelPasses()).toBeGreaterThanOrEqual(before + 3);
      const r = scale.map((s) => s * c);
      const d = loc.map((m) => (m - locP) * c);
      const want = loc.map((_, i) => 0.5 * r[i] * r[i] + 0.5 * d[i] * d[i] - 0.5 - (Math.log(scale[i]) - Math.log(scaleP)));
      // A sum of four terms, each within 3 ulps: error ≤ 8 ulps of the largest term (log within 2 ulps of its own).
      const mag = loc.map((_, i) => 0.5 * r[i] * r[i] + 0.5 * d[i] * d[i] + 0.5 + Math.abs(Math.log(scale[i])) + Math.abs(Math.log(scaleP)));
      expectNear('kl', value, want, 0, mag.map((v) => 8 * ULP * v));
      // (With the prior scale 1e20 the gradient (μ − m)/s² is a subnormal float32: its spacing 2⁻¹⁴⁹ as atol.)
      expectNear('∂kl/∂μ', dLoc, d.map((v) => v * c), 4 * ULP, 2 ** -148);
      const gradMag = scale.map((s, i) => Math.abs(r[i] * c) + 1 / s);
      expectNear('∂kl/∂σ', dScale, scale.map((s, i) => r[i] * c - 1 / s), 0, gradMag.map((v) => 4 * ULP * v));
    }
  });

  it('normalKL falls back to the tfjs ops outside the fused range (prior scale 1e38) and for tensor priors', () => {
    const before = posteriorKernelPasses();
    tf.tidy(() => {
      normalKL(tf.tensor1d([1, 2]), tf.tensor1d([1, 2]), 0, 1e38);
      normalKL(tf.tensor1d([1, 2]), tf.tensor1d([1, 2]), tf.zeros([2]), tf.ones([2]));
    });
    expect(posteriorKernelPasses()).toBe(before);
  });

  it('normalLogProbOfNoise with a tensor scale: value and both gradients at the corners', () => {
    const eps: number[] = [];
    const scale: number[] = [];
    for (const e of [0, 1, -1, 5.5, -6.8, 1e10, 2e19, -3e38]) for (const s of SIGMA) { eps.push(f32(e)); scale.push(s); }
    const [value, dEps, dScale] = tf.tidy(() => {
      const e = tf.tensor1d(eps);
      const s = tf.tensor1d(scale);
      const [ge, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => normalLogProbOfNoise(a, b))([e, s]);
      return [normalLogProbOfNoise(e, s).dataSync(), ge.dataSync(), gs.dataSync()];
    });
    const want = eps.map((e, i) => -0.5 * e * e - Math.log(scale[i]) - HALF_LOG_TWO_PI);
    const mag = eps.map((e, i) => 0.5 * e * e + Math.abs(Math.log(scale[i])) + HALF_LOG_TWO_PI);
    expectNear('log q', value, want, 0, mag.map((v) => 6 * ULP * v));
    expectNear('∂/∂ε', dEps, eps.map((e) => -e), 0);
    expectNear('∂/∂σ', dScale, scale.map((s) => -1 / s), 2 * ULP);
  });

  const MIXTURES: Array<[string, ScaleMixturePrior, number, number, number]> = [
    ['defaults (π ½, σ₁ 1, σ₂ e⁻⁶)', new ScaleMixturePrior(), 0.5, 1, Math.exp(-6)],
    ['narrow first (π ¼, σ₁ e⁻⁷, σ₂ 2)', new ScaleMixturePrior({pi: 0.25, scale1: Math.exp(-7), scale2: 2}), 0.25, Math.exp(-7), 2],
  ];
  it.each(MIXTURES)('ScaleMixturePrior.logProb, %s: value and gradient from 0 to ±3e38', (_label, prior, pi, s1, s2) => {
    const w = [0, 1e-4, -1e-3, 0.005, -0.01, 0.05, 0.1, -0.5, 1, 3, -10, 100, 1e4, -1e10, 1e19, -3e38, ...randomInputs(101, 7, -0.2, 0.2)]
        .map(f32);
    const before = posteriorKernelPasses();
    const [value, grad] = tf.tidy(() => {
      const t = tf.tensor1d(w);
      const g = tf.grad((x: tf.Tensor) => prior.logProb(x))(t);
      return [prior.logProb(t).dataSync(), g.dataSync()];
    });
    expect(posteriorKernelPasses()).toBeGreaterThanOrEqual(before + 3);
    const refs = w.map((x) => mixture64(x, pi, s1, s2));
    // A sum of the wide log-density (its constant, a half-square: 3 ulps) and a softplus of a difference of
    // magnitude up to `offset + u²` (4 ulps of it); relative to those magnitudes.
    const sW = Math.max(s1, s2);
    const sN = Math.min(s1, s2);
    const mag = w.map((x) => Math.abs(Math.log(sW)) + HALF_LOG_TWO_PI + 2 + 0.5 * (x / sW) ** 2 +
        Math.min(0.5 * (x / sN) ** 2, 250) + Math.abs(Math.log(sW / sN)));
    expectNear('log p', value, refs.map((r) => r.value), 0, mag.map((v) => 8 * ULP * v));
    // The derivative: −w·(weighted 1/σ²) — each path within a few ulps of its own size w/σ_c².
    const gradMag = w.map((x) => Math.abs(x) * (1 / (s1 * s1) + 1 / (s2 * s2)));
    expectNear('∂ log p/∂w', grad, refs.map((r) => r.grad), 0, gradMag.map((v) => 16 * ULP * v + 1e-30));
  });

  it('leak no tensors (values and gradients)', () => {
    const prior = new ScaleMixturePrior();
    const x = tf.tensor1d([0.1, -0.2, 0.3, 0.4, 0.5]);
    const y = tf.tensor1d([0.5, 1, 2, 3, 4]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad((t: tf.Tensor) => softplusScale(t))(x);
      tf.grads((a: tf.Tensor, b: tf.Tensor) => normalKL(a, b, 0, 1))([x, y]);
      tf.grads((a: tf.Tensor, b: tf.Tensor) => normalLogProbOfNoise(a, b))([x, y]);
      tf.grad((t: tf.Tensor) => prior.logProb(t))(x);
    });
    tf.dispose([softplusScale(x), normalKL(x, y, 0, 1)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});

/** The four functions and their gradients on random inputs (1,003 elements: a tail of 3). */
function randomCase(): number[][] {
  const n = 1003;
  const rho = randomInputs(n, 11, -8, 4);
  const mu = randomInputs(n, 12, -1, 1);
  const eps = randomInputs(n, 13, -4, 4);
  const w = randomInputs(n, 14, -0.3, 0.3);
  const prior = new ScaleMixturePrior({pi: 0.25, scale1: 1, scale2: Math.exp(-7)});
  return tf.tidy(() => {
    const r = tf.tensor1d(rho);
    const m = tf.tensor1d(mu);
    const e = tf.tensor1d(eps);
    const x = tf.tensor1d(w);
    const s = softplusScale(r);
    const out: tf.Tensor[] = [s, tf.grad((t: tf.Tensor) => softplusScale(t))(r)];
    out.push(normalKL(m, s, 0.1, 0.5), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => normalKL(a, b, 0.1, 0.5))([m, s]));
    out.push(normalLogProbOfNoise(e, s), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => normalLogProbOfNoise(a, b))([e, s]));
    out.push(prior.logProb(x), tf.grad((t: tf.Tensor) => prior.logProb(t))(x));
    return out.map((t) => Array.from(t.dataSync()));
  });
}

describe('the fused passes against the tfjs ops', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it('agree on random inputs: wasm fused, wasm with the fast kernels off, and cpu (float32 rounding)', async () => {
    await useBackend('cpu');
    const cpu = randomCase();
    await useBackend('wasm');
    disableFastWasmKernels();
    let before = posteriorKernelPasses();
    const plain = randomCase();
    expect(posteriorKernelPasses()).toBe(before);
    expect(enableFastWasmKernels()).toBe(true);
    before = posteriorKernelPasses();
    const fused = randomCase();
    expect(posteriorKernelPasses()).toBeGreaterThan(before);
    const names = ['σ', 'dσ/dρ', 'kl', '∂kl/∂μ', '∂kl/∂σ', 'log q', '∂/∂ε', '∂/∂σ', 'log p', '∂ log p/∂w'];
    names.forEach((name, k) => {
      // Each output within a few float32 ulps of the other computation (atol for values near 0).
      expectNear(`${name} (wasm fused vs cpu)`, fused[k], cpu[k], 1e-5, 1e-5);
      expectNear(`${name} (wasm fused vs wasm tfjs ops)`, fused[k], plain[k], 1e-5, 1e-5);
    });
  });
});

/** One SGD step of a 6 → 4 → 3 model from fixed weights and seeds: the weights after it. */
async function oneStep(estimator: 'reparameterization'|'localReparameterization'|'flipout', prior: string): Promise<Record<string, number[]>> {
  const model = tfl.sequential({layers: [
    bayesianDense({inputShape: [6], units: 4, activation: 'relu', estimator, prior, bayesianBias: true, numExamples: 20, seed: 5}),
    bayesianDense({units: 3, estimator, prior, numExamples: 20, seed: 6}),
  ]});
  for (const w of model.trainableWeights) {
    const v = w.read();
    const base = w.originalName.includes('untransformed') ? -2 : 0;
    w.write(tf.tidy(() => tf.add(tf.mul(tf.tensor(uniformValues(v.size, v.size + 100 * base), v.shape), 0.5), base)));
  }
  model.compile({optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError'});
  const x = tf.tensor2d(uniformValues(8 * 6, 3), [8, 6]);
  const y = tf.tensor2d(uniformValues(8 * 3, 4), [8, 3]);
  const loss = await model.trainOnBatch(x, y) as number;
  expect(Number.isFinite(loss)).toBe(true);
  const out: Record<string, number[]> = {};
  for (const w of model.trainableWeights) out[w.originalName.replace(/^[^/]*\//, '')] = Array.from(w.read().dataSync());
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

describe('BayesianDense with the fused passes (fast kernels on)', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it.each([['reparameterization', 'scaleMixture'], ['localReparameterization', 'gaussian'], ['flipout', 'gaussian'],
    ['reparameterization', 'gaussian']] as const)(
      '%s, %s prior: one training step gives the same weights on cpu and wasm (same seeds, same noise)', async (estimator, prior) => {
        await useBackend('cpu');
        const before = posteriorKernelPasses();
        const cpu = await oneStep(estimator, prior);
        expect(posteriorKernelPasses()).toBe(before);
        await useBackend('wasm');
        expect(enableFastWasmKernels()).toBe(true);
        const wasm = await oneStep(estimator, prior);
        expect(posteriorKernelPasses()).toBeGreaterThan(before);
        expect(Object.keys(wasm).sort()).toEqual(Object.keys(cpu).sort());
        // A step of 0.05·gradient: float32 rounding of the forward and backward passes, amplified by at most
        // the few operations between them (the weights are O(1)).
        for (const name of Object.keys(cpu)) expectNear(`${name}`, wasm[name], cpu[name], 1e-4, 1e-5);
      });

  const fitLosses: Record<string, number[]> = {};
  it.each(NODE_BACKENDS)('trains with model.fit on %s: the loss (data term and KL/N) falls over 30 epochs, the same on both backends', async (backend) => {
    await useBackend(backend);
    expect(enableFastWasmKernels()).toBe(true);
    const model = tfl.sequential({layers: [
      bayesianDense({inputShape: [2], units: 8, activation: 'tanh', numExamples: 64, seed: 1, prior: 'scaleMixture'}),
      bayesianDense({units: 1, numExamples: 64, seed: 2}),
    ]});
    for (const w of model.trainableWeights) {
      w.write(tf.tidy(() => tf.add(tf.mul(tf.tensor(uniformValues(w.read().size, 9), w.read().shape), 0.5),
          w.originalName.includes('untransformed') ? -3 : 0)));
    }
    model.compile({optimizer: tf.train.adam(0.05), loss: 'meanSquaredError'});
    const xs = uniformValues(128, 21);
    const x = tf.tensor2d(xs, [64, 2]);
    const y = tf.tensor2d(Array.from({length: 64}, (_, i) => xs[2 * i] - 0.5 * xs[2 * i + 1]), [64, 1]);
    const history = await model.fit(x, y, {epochs: 30, batchSize: 64, shuffle: false, verbose: 0});
    const losses = history.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    // Seeded noise and fixed data: a fixed outcome (1.25 → 0.82); the KL/N part of the loss falls little.
    expect(losses[losses.length - 1]).toBeLessThan(0.75 * losses[0]);
    fitLosses[backend] = losses;
    // The first epochs agree between backends; Adam's normalised steps then let float32 differences grow (3e-4 by epoch 17).
    if (fitLosses.cpu !== undefined && fitLosses.wasm !== undefined) {
      expectNear('loss', fitLosses.wasm.slice(0, 3), fitLosses.cpu.slice(0, 3), 1e-4);
    }
    tf.dispose([x, y]);
    model.dispose();
  });
});

// ------------------------------------------------------------ the fused sample and divergence

/** Σ w·dw + g·KL for the op's outputs: every gradient of the op in one scalar. */
function sampleLoss(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, dw: tf.Tensor, g: number, m: number, s: number,
    centered: boolean): tf.Scalar {
  const {sample, kl} = normalSampleAndKL(mu, rho, eps, {loc: m, scale: s}, centered);
  return tf.add(tf.sum(tf.mul(sample, dw)), tf.mul(kl, g)) as tf.Scalar;
}

/** The op's sample, KL, dμ and dρ for `dw` and g (plain arrays). */
function sampleCase(mu: number[], rho: number[], eps: number[], dw: number[], g: number, m: number, s: number,
    centered: boolean): {sample: number[], kl: number, dmu: number[], drho: number[]} {
  return tf.tidy(() => {
    const [tm, tr, te, tdw] = [mu, rho, eps, dw].map((v) => tf.tensor1d(v));
    const out = normalSampleAndKL(tm, tr, te, {loc: m, scale: s}, centered);
    const [dmu, drho] = tf.grads((a: tf.Tensor, b: tf.Tensor) => sampleLoss(a, b, te, tdw, g, m, s, centered))([tm, tr]);
    return {sample: Array.from(out.sample.dataSync()), kl: out.kl.dataSync()[0],
      dmu: Array.from(dmu.dataSync()), drho: Array.from(drho.dataSync())};
  });
}

/** The corners: μ up to |1e4|, ρ ±1e3 and around the exp cut-off, ε to ±6.8, in every combination (a tail of 1 to 3). */
function cornerInputs(): {mu: number[], rho: number[], eps: number[], dw: number[]} {
  const mus = [0, -1e4, 1e4, 0.5, -3, 1e-20].map(f32);
  const rhos = [-1e3, -100, -87.3, -20, -3, 0, 1, 20, 100, 1e3].map(f32);
  const epss = [0, 1, -2.5, 6.8].map(f32);
  const mu: number[] = [];
  const rho: number[] = [];
  const eps: number[] = [];
  for (const a of mus) for (const b of rhos) for (const e of epss) { mu.push(a); rho.push(b); eps.push(e); }
  mu.push(0.3); rho.push(-2); eps.push(0.1); // 241 elements
  const dw = randomInputs(mu.length, 31, -1, 1);
  return {mu, rho, eps, dw};
}

describe('normalSampleAndKL: the posterior sample and its Gaussian divergence in one op', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it.each([[0, 1, false], [0.5, 0.1, false], [0, 1, true], [-2, 1e3, true]] as const)(
      'on wasm, fused: values and gradients against float64 at the corners (prior N(%p, %p²), centered %p)',
      async (m, s, centered) => {
        await useBackend('wasm');
        expect(enableFastWasmKernels()).toBe(true);
        const {mu, rho, eps, dw} = cornerInputs();
        const g = 0.7;
        const before = fusedSampleCalls();
        const got = sampleCase(mu, rho, eps, dw, g, m, s, centered);
        expect(fusedSampleCalls()).toBeGreaterThan(before);
        const sigma = rho.map((r) => softplus64(r) + SCALE_FLOOR);
        const sig = rho.map(sigmoid64);
        const w = mu.map((a, i) => (centered ? 0 : a) + sigma[i] * eps[i]);
        // w: σ within 4 ulps, then a product and a sum: 8 ulps of the terms' magnitudes.
        expectNear('sample', got.sample, w, 0, mu.map((a, i) => 8 * ULP * ((centered ? 0 : Math.abs(a)) + sigma[i] * Math.abs(eps[i]))));
        const terms = mu.map((a, i) => {
          const r = sigma[i] / s;
          const d = (a - m) / s;
          return [0.5 * r * r, -0.5, 0.5 * d * d, -(Math.log(sigma[i]) - Math.log(s))];
        });
        const kl = terms.reduce((acc, t) => acc + t[0] + t[1] + t[2] + t[3], 0);
        // Each element's float32 terms to 16 ulps of their magnitudes (the sum itself is float64).
        const klTol = terms.reduce((acc, t) => acc + 16 * ULP * t.reduce((u, v) => u + Math.abs(v), 0), 0);
        expectNear('kl', [got.kl], [kl], 2 * ULP, klTol);
        const dmu = mu.map((a, i) => (centered ? 0 : dw[i]) + g * (a - m) / (s * s));
        expectNear('dμ', got.dmu, dmu, 0, mu.map((a, i) => 8 * ULP * (Math.abs(dw[i]) + g * Math.abs(a - m) / (s * s)) + 1e-30));
        const dsig = mu.map((_, i) => dw[i] * eps[i] + g * (sigma[i] / (s * s) - 1 / sigma[i]));
        const dsigMag = mu.map((_, i) => Math.abs(dw[i] * eps[i]) + g * (sigma[i] / (s * s) + 1 / sigma[i]));
        // sigmoid's exp flushes below e^−87 = 1.65e-38 to 0: an absolute error below 1.65e-38 times |dσ|.
        expectNear('dρ', got.drho, dsig.map((v, i) => v * sig[i]),
            0, dsigMag.map((v, i) => 16 * ULP * v * sig[i] + 1.65e-38 * v + 1e-30));
      });

  it('fused on wasm = the tfjs ops (wasm with the fast kernels off, and cpu) on random inputs, within float32 rounding', async () => {
    const n = 1003;
    const mu = randomInputs(n, 41, -1, 1);
    const rho = randomInputs(n, 42, -8, 4);
    const eps = randomInputs(n, 43, -4, 4);
    const dw = randomInputs(n, 44, -1, 1);
    const results: Record<string, ReturnType<typeof sampleCase>[]> = {};
    for (const setup of FUSED_SETUPS) {
      await useFusedSetup(setup);
      const before = fusedSampleCalls();
      results[setup] = [sampleCase(mu, rho, eps, dw, 0.3, 0.1, 0.5, false), sampleCase(mu, rho, eps, dw, 0.3, 0.1, 0.5, true)];
      expect(fusedSampleCalls() > before).toBe(setup === 'wasm-fused');
    }
    for (const other of ['cpu', 'wasm-off']) {
      for (let k = 0; k < 2; k++) {
        const a = results['wasm-fused'][k];
        const b = results[other][k];
        expectNear(`sample vs ${other}`, a.sample, b.sample, 1e-5, 1e-6);
        // The sum of 1,003 float32 terms (about 1,500): tfjs sums in float32.
        expectNear(`kl vs ${other}`, [a.kl], [b.kl], 1e-5);
        expectNear(`dμ vs ${other}`, a.dmu, b.dmu, 1e-5, 1e-6);
        expectNear(`dρ vs ${other}`, a.drho, b.drho, 1e-5, 1e-6);
      }
    }
  });

  it('gradients agree with central finite differences of the fused op (wasm)', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const mu = [0.3, -0.7, 1.2, 0.05, -0.2];
    const rho = [-1, 0.5, -2.5, 1.5, -0.3];
    const eps = [0.4, -1.1, 2.0, -0.3, 0.9];
    const dw = [0.5, -0.25, 1, 0.75, -1];
    const g = 0.6;
    const got = sampleCase(mu, rho, eps, dw, g, 0.1, 0.8, false);
    const loss = (a: number[], b: number[]): number => tf.tidy(() =>
      sampleLoss(tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(eps), tf.tensor1d(dw), g, 0.1, 0.8, false).dataSync()[0]);
    const h = 1e-2;
    for (let i = 0; i < mu.length; i++) {
      const a = [...mu];
      const b = [...rho];
      const fd = (arr: number[], set: (v: number) => void, x: number): number => {
        set(x + h); const up = loss(a, b); set(x - h); const down = loss(a, b); set(x); void arr; return (up - down) / (2 * h);
      };
      const dmu = fd(a, (v) => { a[i] = v; }, mu[i]);
      const drho = fd(b, (v) => { b[i] = v; }, rho[i]);
      // Truncation O(h²) of these smooth terms (third derivatives below 3) and float32 rounding of a loss near 5, over 2h.
      expect(Math.abs(got.dmu[i] - dmu)).toBeLessThan(2e-3);
      expect(Math.abs(got.drho[i] - drho)).toBeLessThan(2e-3);
    }
  });

  it('tensors of 1 to 15 elements take the tfjs ops; 16 to 40 the fused passes (the last vectors overlapping), with the same results', async () => {
    for (let n = 1; n <= 40; n++) {
      const mu = randomInputs(n, 60 + n, -1, 1);
      const rho = randomInputs(n, 70 + n, -6, 3);
      const eps = randomInputs(n, 80 + n, -3, 3);
      const dw = randomInputs(n, 90 + n, -1, 1);
      await useBackend('wasm');
      disableFastWasmKernels();
      const off = sampleCase(mu, rho, eps, dw, 0.4, 0.2, 0.7, false);
      expect(enableFastWasmKernels()).toBe(true);
      const before = fusedSampleCalls();
      const on = sampleCase(mu, rho, eps, dw, 0.4, 0.2, 0.7, false);
      expect(fusedSampleCalls() - before).toBe(n >= 16 ? 2 : 0);  // the value, then again under the gradient
      expectNear(`n ${n}: sample`, on.sample, off.sample, 1e-6, 1e-7);
      expectNear(`n ${n}: kl`, [on.kl], [off.kl], 1e-6, 1e-6);
      expectNear(`n ${n}: dμ`, on.dmu, off.dmu, 1e-5, 1e-7);
      expectNear(`n ${n}: dρ`, on.drho, off.drho, 1e-5, 1e-7);
    }
  });

  it('the divergence of 200,003 weights, σ from the 1e-5 floor to 1e15: Σ log σ as a float64 product, within 1e-9 of the float64 sum', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const n = 200003;
    // ρ spread over [−40, 1e15] in log scale, so σ = softplus(ρ) + 1e-5 covers 20 orders of magnitude;
    // the prior's scale 1e5 keeps each KL term (r² and d² below 1e20) far from float32's limits.
    const u = randomInputs(n, 7, 0, 1);
    const rho = u.map((v) => f32(v < 0.3 ? -40 + 40 * v / 0.3 : Math.pow(10, 15 * (v - 0.3) / 0.7)));
    const mu = randomInputs(n, 8, -10, 10);
    const eps = randomInputs(n, 9, -3, 3);
    const s = 1e5;
    const kl = tf.tidy(() => normalSampleAndKL(tf.tensor1d(mu), tf.tensor1d(rho), tf.tensor1d(eps), {loc: 0, scale: s}).kl.dataSync()[0]);
    let want = 0;
    let magnitude = 0;
    for (let i = 0; i < n; i++) {
      const sigma = f32(softplus64(rho[i]) + SCALE_FLOOR);  // the op's σ is float32
      const r = sigma / s;
      const d = mu[i] / s;
      const t = [0.5 * r * r, -0.5, 0.5 * d * d, -(Math.log(sigma) - Math.log(s))];
      want += t[0] + t[1] + t[2] + t[3];
      magnitude += Math.abs(t[0]) + Math.abs(t[2]);
    }
    // The quadratic terms are float32 (8 ulps each); the logarithms enter through the product, good to 1e-9 relative.
    expect(Math.abs(kl - want)).toBeLessThanOrEqual(8 * ULP * magnitude + 1e-9 * Math.abs(want) + 1e-6);
  });

  it('keeps the gradient\'s factors only while a tape records', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const [mu, rho, eps] = [randomInputs(64, 1, -1, 1), randomInputs(64, 2, -5, 1), randomInputs(64, 3, -2, 2)].map((v) => tf.tensor1d(v));
    const before = tf.memory().numBytes;
    const out = normalSampleAndKL(mu, rho, eps, {loc: 0, scale: 1});
    // Outside a tape: the sample (64 float32) and the scalar only.
    expect(tf.memory().numBytes - before).toBe(64 * 4 + 4);
    tf.dispose([out.sample, out.kl, mu, rho, eps]);
  });

  it('leaks no tensors, forward or backward, and errors on mismatched shapes as the unfused path', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const [mu, rho, eps, dw] = [randomInputs(20, 31, -1, 1), randomInputs(20, 32, -3, 2), randomInputs(20, 33, -2, 2), randomInputs(20, 34, -1, 1)]
        .map((v) => tf.tensor1d(v));
    const calls = fusedSampleCalls();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      normalSampleAndKL(mu, rho, eps, {loc: 0, scale: 1});
      tf.grads((a: tf.Tensor, b: tf.Tensor) => sampleLoss(a, b, eps, dw, 0.5, 0, 1, true))([mu, rho]);
      tf.grads((a: tf.Tensor, b: tf.Tensor) => sampleLoss(a, b, eps, dw, 0.5, 0, 1, false))([mu, rho]);
    });
    const out = normalSampleAndKL(mu, rho, eps, {loc: 0, scale: 1});
    tf.dispose([out.sample, out.kl]);
    expect(tf.memory().numTensors).toBe(before);
    expect(fusedSampleCalls() - calls).toBe(4);
    const short = tf.ones([4]);
    for (const backendOff of [false, true]) {
      if (backendOff) disableFastWasmKernels();
      expect(() => normalSampleAndKL(mu, rho, short, {loc: 0, scale: 1})).toThrow(
          'normalSampleAndKL: expected mu, rho and eps of one shape. Received: mu [20], rho [20], eps [4]');
    }
    tf.dispose([mu, rho, eps, dw, short]);
  });

  const MIXTURE = {pi: 0.25, scale1: 1, scale2: Math.exp(-7)};

  /** Σ w·dw + g·KL of the mixture op. */
  function mixtureLoss(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, dw: tf.Tensor, g: number, centered: boolean): tf.Scalar {
    const {sample, kl} = mixtureSampleAndKL(mu, rho, eps, new ScaleMixturePrior(MIXTURE), centered);
    return tf.add(tf.sum(tf.mul(sample, dw)), tf.mul(kl, g)) as tf.Scalar;
  }
  function mixtureCase(mu: number[], rho: number[], eps: number[], dw: number[], g: number, centered: boolean) {
    return tf.tidy(() => {
      const [tm, tr, te, tdw] = [mu, rho, eps, dw].map((v) => tf.tensor1d(v));
      const out = mixtureSampleAndKL(tm, tr, te, new ScaleMixturePrior(MIXTURE), centered);
      const [dmu, drho] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mixtureLoss(a, b, te, tdw, g, centered))([tm, tr]);
      return {sample: Array.from(out.sample.dataSync()), kl: out.kl.dataSync()[0],
        dmu: Array.from(dmu.dataSync()), drho: Array.from(drho.dataSync())};
    });
  }

  it.each([false, true])('scale mixture, on wasm, fused: values and gradients against float64 (centered %p)', async (centered) => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    // The weights' range of training (|w| up to 1e4 via μ; ρ from −20 to 5; both mixture regimes around σ₂ = e⁻⁷).
    const mus = [0, 1e-4, -2e-3, 0.05, -0.5, 3, 1e4].map(f32);
    const rhos = [-20, -10, -5, -3, 0, 5].map(f32);
    const epss = [0, 1, -2.5, 6.8].map(f32);
    const mu: number[] = [];
    const rho: number[] = [];
    const eps: number[] = [];
    for (const a of mus) for (const b of rhos) for (const e of epss) { mu.push(a); rho.push(b); eps.push(e); }
    mu.push(0.3); rho.push(-2); eps.push(0.1); // 169 elements: a tail of 1
    const dw = randomInputs(mu.length, 61, -1, 1);
    const g = 0.7;
    const before = fusedSampleCalls();
    const got = mixtureCase(mu, rho, eps, dw, g, centered);
    expect(fusedSampleCalls()).toBeGreaterThan(before);
    const sigma = rho.map((r) => softplus64(r) + SCALE_FLOOR);
    const w = mu.map((a, i) => a + sigma[i] * eps[i]);
    const refs = w.map((x) => mixture64(x, MIXTURE.pi, MIXTURE.scale1, MIXTURE.scale2));
    expectNear('sample', got.sample, mu.map((a, i) => (centered ? 0 : a) + sigma[i] * eps[i]),
        0, mu.map((a, i) => 8 * ULP * ((centered ? 0 : Math.abs(a)) + sigma[i] * Math.abs(eps[i]))));
    const terms = w.map((_, i) => [-0.5 * eps[i] * eps[i], -Math.log(sigma[i]), -HALF_LOG_TWO_PI, -refs[i].value]);
    const kl = terms.reduce((acc, t) => acc + t[0] + t[1] + t[2] + t[3], 0);
    // The float32 w (8 ulps) moves log p by |∂ log p/∂w|·δw; each term's own rounding 16 ulps of its size.
    const klTol = terms.reduce((acc, t, i) => acc + 16 * ULP * t.reduce((u, v) => u + Math.abs(v), 0) +
        Math.abs(refs[i].grad) * 8 * ULP * (Math.abs(mu[i]) + sigma[i] * Math.abs(eps[i])), 0);
    expectNear('kl', [got.kl], [kl], 2 * ULP, klTol);
    // a = −g·∂ log p/∂w; dμ = dw + a (centered: a); dρ = ((dw + a)·ε − g/σ)·sigmoid(ρ).
    const sMag = (x: number): number => Math.abs(x) * (1 / MIXTURE.scale1 ** 2 + 1 / MIXTURE.scale2 ** 2);
    const a = refs.map((r) => -g * r.grad);
    const aTol = w.map((x, i) => g * (16 * ULP * sMag(x) + sMag(8 * ULP * (Math.abs(mu[i]) + sigma[i] * Math.abs(eps[i])))) + 1e-30);
    expectNear('dμ', got.dmu, a.map((v, i) => (centered ? 0 : dw[i]) + v), 0, aTol.map((t, i) => t + 8 * ULP * Math.abs(dw[i])));
    const sig = rho.map(sigmoid64);
    expectNear('dρ', got.drho, a.map((v, i) => ((dw[i] + v) * eps[i] - g / sigma[i]) * sig[i]), 0,
        a.map((v, i) => (aTol[i] * Math.abs(eps[i]) + 16 * ULP * (Math.abs((dw[i] + v) * eps[i]) + g / sigma[i])) * sig[i] + 1e-30));
  });

  it('scale mixture: fused on wasm = the tfjs ops of divergenceOf (wasm off, cpu) on random inputs; finite differences', async () => {
    const n = 1003;
    const mu = randomInputs(n, 71, -0.3, 0.3);
    const rho = randomInputs(n, 72, -8, 0);
    const eps = randomInputs(n, 73, -4, 4);
    const dw = randomInputs(n, 74, -1, 1);
    const results: Record<string, ReturnType<typeof mixtureCase>[]> = {};
    for (const setup of FUSED_SETUPS) {
      await useFusedSetup(setup);
      const before = fusedSampleCalls();
      results[setup] = [mixtureCase(mu, rho, eps, dw, 0.3, false), mixtureCase(mu, rho, eps, dw, 0.3, true)];
      expect(fusedSampleCalls() > before).toBe(setup === 'wasm-fused');
    }
    for (const other of ['cpu', 'wasm-off']) {
      for (let k = 0; k < 2; k++) {
        const a = results['wasm-fused'][k];
        const b = results[other][k];
        expectNear(`sample vs ${other}`, a.sample, b.sample, 1e-5, 1e-6);
        // Two float32 sums of 1,003 terms (up to 1e3 in size: log p of the narrow component) subtracted, in tfjs.
        expectNear(`kl vs ${other}`, [a.kl], [b.kl], 1e-5, 0.05);
        expectNear(`dμ vs ${other}`, a.dmu, b.dmu, 1e-4, 1e-3);
        expectNear(`dρ vs ${other}`, a.drho, b.drho, 1e-4, 1e-3);
      }
    }
    // Central differences on a few smooth weights (both components matter near |w| ≈ σ₂·3).
    const smu = [0.002, -0.004, 0.01, 0.3];
    const srho = [-7, -6, -5, -3];
    const seps = [0.5, -1, 0.2, 1.5];
    const sdw = [0.5, -0.25, 1, 0.75];
    const got = mixtureCase(smu, srho, seps, sdw, 0.6, false);
    const loss = (a: number[], b: number[]): number => tf.tidy(() =>
      mixtureLoss(tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(seps), tf.tensor1d(sdw), 0.6, false).dataSync()[0]);
    for (let i = 0; i < smu.length; i++) {
      const hm = 1e-5;
      const up = [...smu]; up[i] += hm;
      const down = [...smu]; down[i] -= hm;
      const fdMu = (loss(up, srho) - loss(down, srho)) / (2 * hm);
      const hr = 1e-2;
      const upR = [...srho]; upR[i] += hr;
      const downR = [...srho]; downR[i] -= hr;
      const fdRho = (loss(smu, upR) - loss(smu, downR)) / (2 * hr);
      // dμ reaches 1e3 (1/σ₂² = e¹⁴ times |w|): relative 1e-2 covers float32 rounding over 2h and O(h²).
      expect(Math.abs(got.dmu[i] - fdMu)).toBeLessThan(1e-2 * Math.abs(fdMu) + 0.05);
      expect(Math.abs(got.drho[i] - fdRho)).toBeLessThan(1e-2 * Math.abs(fdRho) + 0.01);
    }
  });

  it('∂/∂ε is dw·σ on the tfjs path; the fused op treats ε as a constant and refuses it with a clear error', async () => {
    await useBackend('wasm');
    const rho = randomInputs(16, 21, -3, 3);
    const dw = randomInputs(16, 22, -2, 2);
    const epsGrad = () => tf.tidy(() => Array.from(tf.grad((e: tf.Tensor) => sampleLoss(tf.tensor1d(randomInputs(16, 23, -1, 1)), tf.tensor1d(rho), e,
        tf.tensor1d(dw), 0.5, 0, 1, false))(tf.tensor1d(randomInputs(16, 24, -2, 2))).dataSync()));
    disableFastWasmKernels();
    expectNear('∂/∂ε', epsGrad(), rho.map((r, i) => dw[i] * (softplus64(r) + SCALE_FLOOR)), 8 * ULP);
    expect(enableFastWasmKernels()).toBe(true);
    expect(epsGrad).toThrow('the fused posterior sample treats its noise ε as a constant and gives no gradient for it');
  });
});

/** A seeded two-layer BayesianDense model's output, loss and gradients for fixed data (Gaussian prior). */
function seededStep(estimator: 'reparameterization'|'flipout', bayesianBias: boolean, prior: 'gaussian'|'scaleMixture'):
    {out: number[], loss: number, grads: Record<string, number[]>} {
  const model = tfl.sequential({layers: [
    bayesianDense({inputShape: [6], units: 5, activation: 'tanh', estimator, bayesianBias, numExamples: 30, seed: 11, prior}),
    bayesianDense({units: 4, estimator, numExamples: 30, seed: 12,
      prior: prior === 'gaussian' ? tfvGaussian({loc: 0.1, scale: 0.5}) : new ScaleMixturePrior({pi: 0.5, scale1: 1, scale2: 0.01})}),
  ]});
  // Fixed weights (the initialisers' draws differ between runs).
  for (const w of model.trainableWeights) {
    const v = w.read();
    const base = w.originalName.includes('untransformed') ? -2 : 0;
    w.write(tf.tidy(() => tf.add(tf.mul(tf.tensor(uniformValues(v.size, v.size + 7), v.shape), 0.5), base)));
  }
  const x = tf.tensor2d(uniformValues(7 * 6, 51), [7, 6]);
  const y = tf.tensor2d(uniformValues(7 * 4, 52), [7, 4]);
  const result = tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    let out: number[] = [];
    const {value, grads} = tf.variableGrads(() => {
      const pred = model.apply(x, {training: true}) as tf.Tensor;
      out = Array.from(pred.dataSync());
      const data = tf.mean(tf.square(tf.sub(pred, y)));
      return tf.addN([data, ...model.losses.map((l) => (typeof l === 'function' ? l() : l) as tf.Scalar)]) as tf.Scalar;
    }, vars);
    const g: Record<string, number[]> = {};
    model.trainableWeights.forEach((w, i) => { g[w.originalName.replace(/^[^/]*\//, '')] = Array.from(grads[vars[i].name].dataSync()); });
    return {out, loss: value.dataSync()[0], grads: g};
  });
  tf.dispose([x, y]);
  model.dispose();
  return result;
}

describe('BayesianDense takes the fused sample and divergence for the Gaussian and scale-mixture priors (reparameterization, flipout)', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it.each(['reparameterization', 'flipout'] as const)('%s: predictions and training steps on the fused path leak no tensors', async (estimator) => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const model = tfl.sequential({layers: [
      bayesianDense({inputShape: [6], units: 5, activation: 'tanh', estimator, bayesianBias: true, numExamples: 30, seed: 3}),
      bayesianDense({units: 2, estimator, numExamples: 30, seed: 4, prior: 'scaleMixture'}),
    ]});
    model.compile({optimizer: tf.train.adam(0.01), loss: 'meanSquaredError'});
    const x = tf.tensor2d(uniformValues(7 * 6, 81), [7, 6]);
    const y = tf.tensor2d(uniformValues(7 * 2, 82), [7, 2]);
    await model.trainOnBatch(x, y);  // optimizer slots
    tf.dispose(model.predict(x) as tf.Tensor);
    const before = tf.memory().numTensors;
    const calls = fusedSampleCalls();
    for (let i = 0; i < 3; i++) {
      await model.trainOnBatch(x, y);
      tf.dispose(model.predict(x) as tf.Tensor);
      tf.dispose(model.apply(x, {training: true}) as tf.Tensor);
    }
    expect(fusedSampleCalls()).toBeGreaterThan(calls);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });

  it.each([['reparameterization', false, 'gaussian'], ['reparameterization', true, 'gaussian'], ['flipout', false, 'gaussian'],
    ['flipout', true, 'gaussian'], ['reparameterization', true, 'scaleMixture'], ['flipout', true, 'scaleMixture']] as const)(
      '%s (Bayesian bias %p, %s prior): the same seeded layer gives the same output, loss and gradients fused on wasm, unfused on wasm and on cpu',
      async (estimator, bayesianBias, prior) => {
        const runs: Record<string, ReturnType<typeof seededStep>> = {};
        for (const setup of FUSED_SETUPS) {
          await useFusedSetup(setup);
          const before = fusedSampleCalls();
          runs[setup] = seededStep(estimator, bayesianBias, prior);
          // Both layers' kernels (the second with a non-default number prior) take the fused op only there.
          expect(fusedSampleCalls() - before).toBe(setup === 'wasm-fused' ? 2 : 0);
        }
        const fused = runs['wasm-fused'];
        for (const other of ['cpu', 'wasm-off']) {
          const b = runs[other];
          expectNear(`output vs ${other}`, fused.out, b.out, 1e-5, 1e-6);
          expectNear(`loss vs ${other}`, [fused.loss], [b.loss], 1e-5);
          expect(Object.keys(fused.grads).sort()).toEqual(Object.keys(b.grads).sort());
          for (const name of Object.keys(b.grads)) expectNear(`${name} vs ${other}`, fused.grads[name], b.grads[name], 1e-4, 1e-6);
        }
      });
});

// ------------------------------------------------------------ flipout's sign products

describe('flipSigns and addFlipped: flipout\'s sign products as single fused passes on wasm', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  /** Values and gradients (Σ out ⊙ dy) of x ⊙ s and m + p ⊙ r, as plain arrays. */
  function signCase(shape: number[], signShape: number[], seed: number) {
    const size = shape.reduce((a, b) => a * b, 1);
    const signSize = signShape.reduce((a, b) => a * b, 1);
    const signs = randomInputs(signSize, seed, -1, 1).map((v) => (v < 0 ? -1 : 1));
    return tf.tidy(() => {
      const [x, m, p, dy] = [1, 2, 3, 4].map((k) => tf.tensor(randomInputs(size, seed + k, -3, 3), shape));
      const s = tf.tensor(signs, signShape);
      const flipped = flipSigns(x, s);
      const added = addFlipped(m, p, s);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(flipSigns(a, s), dy)))(x);
      const [dm, dp] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(addFlipped(a, b, s), dy)))([m, p]);
      return [flipped, added, dx, dm, dp].map((t) => Array.from(t.dataSync()));
    });
  }

  it('equal tf.mul and tf.add bit for bit (values and gradients); fused from 4 elements, tfjs ops below and for broadcast signs', async () => {
    await useBackend('wasm');
    const cases: Array<[number[], number[], boolean]> = [
      [[1, 3], [1, 3], false], [[1, 4], [1, 4], true], [[3, 5], [3, 5], true], [[7, 9], [7, 9], true], [[256, 784], [256, 784], true],
      [[2, 3, 3, 5], [2, 1, 1, 5], false],  // a convolution's signs, broadcast over positions
    ];
    for (const [shape, signShape, fused] of cases) {
      disableFastWasmKernels();
      const want = signCase(shape, signShape, shape[0] + shape[1]);
      expect(enableFastWasmKernels()).toBe(true);
      const before = fusedSignProductCalls();
      const got = signCase(shape, signShape, shape[0] + shape[1]);
      expect(fusedSignProductCalls() - before).toBe(fused ? 4 : 0);
      for (let k = 0; k < want.length; k++) expect(got[k]).toEqual(want[k]);
    }
  });

  it('leak no tensors, keep nothing outside a tape, and refuse a gradient for the signs', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const [x, s, dy] = [randomInputs(40, 1, -1, 1), randomInputs(40, 2, -1, 1).map(Math.sign), randomInputs(40, 3, -1, 1)]
        .map((v) => tf.tensor2d(v, [5, 8]));
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(flipSigns(a, s), dy)))(x);
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(addFlipped(a, b, s), dy)))([x, dy]);
    });
    const plain = flipSigns(x, s);
    expect(tf.memory().numTensors).toBe(before + 1);
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tf.grad((r: tf.Tensor) => tf.sum(flipSigns(x, r)))(s)).toThrow('flipout\'s sign products treat their signs as constants');
    tf.dispose([x, s, dy]);
  });
});
