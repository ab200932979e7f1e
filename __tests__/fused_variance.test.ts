/**
 * Local reparameterization's fused kernel terms
 * (src/layers/variational/fused_variance.ts, passes in
 * src/perf/variance_kernels.wat): (σ/s)², the column scale s and the
 * Gaussian KL against float64 references at the extremes (ρ ±1e3, |μ| 1e4,
 * σ up to 1e30), with the gradients; the fused op equal to the tfjs ops
 * (wasm with the fast kernels off, and cpu); central differences; no leak;
 * shape errors; the fallbacks. And seeded BayesianDense / BayesianConv2D
 * models giving the same outputs, losses and gradients fused and not (the
 * Gaussian and the scale-mixture priors, an all-zero input row).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {useBackend} from './helpers/backends';
import {expectNear, f32, FUSED_SETUPS, mixture64, randomInputs, sigmoid64, softplus64, ULP, useFusedSetup} from './helpers/float64';
import {centralDifference} from './helpers/gradients';
import {values as uniformValues} from './helpers/random';
import {HALF_LOG_TWO_PI, SCALE_FLOOR} from '../src/distributions/normal';
import {bayesianConv2d} from '../src/layers/bayesian_conv2d';
import {bayesianDense} from '../src/layers/bayesian_dense';
import {fusedSampleCalls} from '../src/layers/variational/fused_sample';
import {
  fusedOutputCalls, fusedVarianceAvailable, fusedVarianceCalls, localOutputSample, localVarianceTerms, VarianceDivergence,
} from '../src/layers/variational/fused_variance';
import '../src';
import {disableFastWasmKernels, enableFastWasmKernels} from '../src/perf';
import {gaussian as tfvGaussian} from '../src/priors/gaussian';
import {ScaleMixturePrior} from '../src/priors/scale_mixture';

/** The corners, cycled over a kernel of `n` elements (the patterns of ρ and μ have coprime lengths). */
function cornerKernel(n: number): {mu: number[], rho: number[]} {
  const rhos = [-1e3, -100, -87.3, -20, -3, 0, 1, 20, 100, 1e3, 1e30].map(f32);
  const mus = [0, -1e4, 1e4, 0.5, -3, 1e-20, 7].map(f32);
  return {mu: Array.from({length: n}, (_, i) => mus[i % mus.length]!), rho: Array.from({length: n}, (_, i) => rhos[(3 * i) % rhos.length]!)};
}

interface Case {
  t: number[];
  s: number[];
  kl: number|null;
  dmu: number[];
  drho: number[];
  dbias: number[]|null;
}

/** Values and the gradients of L = Σ t ⊙ W − ½ Σ loc ⊙ W + γ·KL for kernel inputs of `shape`. */
/** A Gaussian prior, a scale mixture with its Monte Carlo noise ε, or none. */
type TestPrior = {loc: number, scale: number}|{pi: number, scale1: number, scale2: number, eps: number[]}|null;

function runCase(shape: number[], mu: number[], rho: number[], weights: number[], gamma: number,
    testPrior: TestPrior, biasScale: number[]|null): Case {
  let result: Case|null = null;
  tf.tidy(() => {
    const tm = tf.tensor(mu, shape);
    const tr = tf.tensor(rho, shape);
    const tw = tf.tensor(weights, shape);
    const tb = biasScale === null ? null : tf.tensor1d(biasScale);
    const prior: VarianceDivergence = testPrior === null ? null : 'eps' in testPrior ?
      {mixture: new ScaleMixturePrior({pi: testPrior.pi, scale1: testPrior.scale1, scale2: testPrior.scale2}), eps: tf.tensor(testPrior.eps, shape)} :
      testPrior;
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor|null) => {
      const terms = localVarianceTerms(a, b, c, prior);
      // μ's other use (the mean product in the layers) through `loc`: ∂/∂μ gains −½W.
      const data = tf.add(tf.sum(tf.mul(terms.scaledSquare, tw)), tf.sum(tf.mul(terms.loc, tf.mul(tw, -0.5))));
      return (terms.kl === null ? data : tf.add(data, tf.mul(terms.kl, gamma))) as tf.Scalar;
    };
    const out = localVarianceTerms(tm, tr, tb, prior);
    const grads = tb === null ? tf.grads((a: tf.Tensor, b: tf.Tensor) => loss(a, b, null))([tm, tr]) :
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => loss(a, b, c))([tm, tr, tb]);
    result = {
      t: Array.from(out.scaledSquare.dataSync()), s: Array.from(out.scale.dataSync()),
      kl: out.kl === null ? null : out.kl.dataSync()[0]!,
      dmu: Array.from(grads[0]!.dataSync()), drho: Array.from(grads[1]!.dataSync()),
      dbias: grads.length > 2 ? Array.from(grads[2]!.dataSync()) : null,
    };
  });
  return result!;
}

/** The float64 values of the op for `[rows, out]` inputs (s, σ_b as given, with s constant in the gradients). */
function reference(out: number, mu: number[], rho: number[], weights: number[], gamma: number,
    prior: {loc: number, scale: number}|null, biasScale: number[]|null) {
  const {sigma, s, t, dsigT} = varianceReference(out, rho, weights, biasScale);
  const m = prior?.loc ?? 0;
  const sp = prior?.scale ?? 1;
  const terms = mu.map((a, i) => {
    const r = sigma[i]! / sp;
    const d = (a - m) / sp;
    return [0.5 * r * r, -0.5, 0.5 * d * d, -(Math.log(sigma[i]!) - Math.log(sp))];
  });
  const g = prior === null ? 0 : gamma;
  const dsigK = sigma.map((v) => g * (v / (sp * sp) - 1 / v));
  return {
    sigma, s, t, terms, dsigT, dsigK,
    kl: terms.reduce((acc, u) => acc + u[0]! + u[1]! + u[2]! + u[3]!, 0),
    dmu: mu.map((a, i) => -0.5 * weights[i]! + g * (a - m) / (sp * sp)),
    drho: rho.map((r, i) => (dsigT[i]! + dsigK[i]!) * sigmoid64(r)),
  };
}

/** σ, s, t = (σ/s)² and t's part of dσ (W·2σ/s², s held) in float64. */
function varianceReference(out: number, rho: number[], weights: number[], biasScale: number[]|null) {
  const sigma = rho.map((r) => softplus64(r) + SCALE_FLOOR);
  const s = Array.from({length: out}, (_, j) => biasScale === null ? 0 : biasScale[j]!);
  sigma.forEach((v, i) => { s[i % out] = Math.max(s[i % out]!, v); });
  for (let j = 0; j < out; j++) if (!(s[j]! > 0)) s[j] = 1;
  return {
    sigma, s,
    t: sigma.map((v, i) => (v / s[i % out]!) ** 2),
    dsigT: sigma.map((v, i) => weights[i]! * 2 * v / (s[i % out]! * s[i % out]!)),
  };
}

describe('localVarianceTerms on wasm, fused: against float64', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
  });
  afterAll(() => {
    disableFastWasmKernels();
  });

  // Shapes: an odd number of rows (the last row paired with itself), output counts that are not
  // multiples of 4 (the overlapping last vector), exactly 4, and a conv kernel.
  const SHAPES: number[][] = [[13, 10], [2, 4], [3, 7], [1, 5], [2, 2, 3, 5], [9, 16]];
  const PRIORS = [{loc: 0, scale: 1}, {loc: 0.5, scale: 0.1}, {loc: -2, scale: 1e20}, null];
  it.each(SHAPES.flatMap((shape) => PRIORS.flatMap((prior) => [[shape, prior, false], [shape, prior, true]] as const)))(
      'kernel %p, prior %p, Bayesian bias %p: (σ/s)², s, the KL and the gradients at the corners',
      (shape, prior, withBias) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const out = shape[shape.length - 1]!;
        const {mu, rho} = cornerKernel(n);
        const weights = randomInputs(n, 17 + n, -1, 1);
        const biasScale = withBias ? Array.from({length: out}, (_, j) => f32([0.01, 3, 1e25, 0.5][j % 4]!)) : null;
        const gamma = 0.7;
        const before = fusedVarianceCalls();
        const got = runCase(shape, mu, rho, weights, gamma, prior, biasScale);
        expect(fusedVarianceCalls()).toBeGreaterThan(before);
        const want = reference(out, mu, rho, weights, gamma, prior, biasScale);
        // s is one of the float32 σ (within 4 ulps of softplus + the floor) or σ_b itself.
        expectNear('s', got.s, want.s, 4 * ULP);
        // t = (σ/s)²: two values within 4 ulps, a division and a square; results below the
        // float32 range (σ/s ≈ 1e-35 under a column scale of 1e30) flush towards 0.
        expectNear('t', got.t, want.t, 24 * ULP, 2 ** -140);
        if (prior === null) {
          expect(got.kl).toBeNull();
        } else {
          // Each element's float32 terms to 16 ulps of their magnitudes (summed in float64); σ = 1e30 under
          // the prior scale 1 or 0.1 makes ½r² overflow float32: the sum is then +∞ as the tfjs ops give.
          const tol = want.terms.reduce((acc, u) => acc + 16 * ULP * u.reduce((a, b) => a + Math.abs(b), 0), 0);
          const overflow = want.terms.some((u) => !Number.isFinite(f32(u[0]!)));
          if (overflow) expect(got.kl).toBe(Infinity); else expectNear('kl', [got.kl!], [want.kl], 2 * ULP, tol);
        }
        expectNear('dμ', got.dmu, want.dmu, 4 * ULP, weights.map((w) => 4 * ULP * Math.abs(w) + 2 ** -148));
        // |dσ|'s magnitude; sigmoid's exp flushes below e^−87 = 1.65e-38 to 0: an absolute error below 1.65e-38·|dσ|.
        const g = prior === null ? 0 : gamma;
        const mag = want.dsigT.map((v, i) => Math.abs(v) + g * (want.sigma[i]! / (prior?.scale ?? 1) ** 2 + 1 / want.sigma[i]!));
        expectNear('dρ', got.drho, want.drho, 0, mag.map((v, i) => 32 * ULP * v * sigmoid64(rho[i]!) + 1.65e-38 * v + 2 ** -140));
        if (withBias) expect(got.dbias).toEqual(new Array(out).fill(0));
        for (const v of [...got.t, ...got.s, ...got.dmu, ...got.drho]) expect(Number.isFinite(v)).toBe(true);
      });

  const MIXTURE = {pi: 0.25, scale1: 1, scale2: Math.exp(-7)};
  it.each([[[13, 10], false], [[13, 10], true], [[3, 7], true], [[2, 2, 3, 5], false]] as const)(
      'scale mixture, kernel %p, Bayesian bias %p: the Monte Carlo KL at μ + σ·ε and the gradients over the training range', (shape, withBias) => {
        const n = shape.reduce((a: number, b: number) => a * b, 1);
        const out = shape[shape.length - 1]!;
        // The weights' range of training (|w| up to 1e4 via μ; ρ from −20 to 5; both mixture regimes around σ₂ = e⁻⁷).
        const mus = [0, 1e-4, -2e-3, 0.05, -0.5, 3, 1e4].map(f32);
        const rhos = [-20, -10, -5, -3, 0, 5].map(f32);
        const epss = [0, 1, -2.5, 6.8, -0.3].map(f32);
        const mu = Array.from({length: n}, (_, i) => mus[i % 7]!);
        const rho = Array.from({length: n}, (_, i) => rhos[(5 * i) % 6]!);
        const eps = Array.from({length: n}, (_, i) => epss[(3 * i) % 5]!);
        const weights = randomInputs(n, 41 + n, -1, 1);
        const biasScale = withBias ? Array.from({length: out}, (_, j) => f32([0.01, 3, 0.5][j % 3]!)) : null;
        const g = 0.7;
        const before = fusedVarianceCalls();
        const got = runCase([...shape], mu, rho, weights, g, {...MIXTURE, eps}, biasScale);
        expect(fusedVarianceCalls()).toBeGreaterThan(before);
        const {sigma, s, t, dsigT} = varianceReference(out, rho, weights, biasScale);
        expectNear('s', got.s, s, 4 * ULP);
        expectNear('t', got.t, t, 24 * ULP, 2 ** -140);
        const w = mu.map((a, i) => a + sigma[i]! * eps[i]!);
        const refs = w.map((x) => mixture64(x, MIXTURE.pi, MIXTURE.scale1, MIXTURE.scale2));
        const terms = w.map((_, i) => [-0.5 * eps[i]! * eps[i]!, -Math.log(sigma[i]!), -HALF_LOG_TWO_PI, -refs[i]!.value]);
        const kl = terms.reduce((acc, u) => acc + u[0]! + u[1]! + u[2]! + u[3]!, 0);
        // The float32 w (8 ulps) moves log p by |∂ log p/∂w|·δw; each term's own rounding 16 ulps of its size.
        const klTol = terms.reduce((acc, u, i) => acc + 16 * ULP * u.reduce((x, v) => x + Math.abs(v), 0) +
            Math.abs(refs[i]!.grad) * 8 * ULP * (Math.abs(mu[i]!) + sigma[i]! * Math.abs(eps[i]!)), 0);
        expectNear('kl', [got.kl!], [kl], 2 * ULP, klTol);
        // a = −g·∂ log p/∂w; dμ = a; dρ = (W·2σ/s² + a·ε − g/σ)·sigmoid(ρ).
        const sMag = (x: number): number => Math.abs(x) * (1 / MIXTURE.scale1 ** 2 + 1 / MIXTURE.scale2 ** 2);
        const a = refs.map((r) => -g * r.grad);
        const aTol = w.map((x, i) => g * (16 * ULP * sMag(x) + sMag(8 * ULP * (Math.abs(mu[i]!) + sigma[i]! * Math.abs(eps[i]!)))) + 1e-30);
        expectNear('dμ', got.dmu, a.map((v, i) => v - 0.5 * weights[i]!), 0, aTol.map((t, i) => t + 4 * ULP * Math.abs(weights[i]!)));
        const sig = rho.map(sigmoid64);
        expectNear('dρ', got.drho, a.map((v, i) => (dsigT[i]! + v * eps[i]! - g / sigma[i]!) * sig[i]!), 0,
            a.map((v, i) => (aTol[i]! * Math.abs(eps[i]!) + 32 * ULP * (Math.abs(dsigT[i]!) + Math.abs(v * eps[i]!) + g / sigma[i]!)) * sig[i]! + 1e-30));
        if (withBias) expect(got.dbias).toEqual(new Array(out).fill(0));
      });

  it('gradients agree with central differences of the float64 terms (s held, as the op defines it)', () => {
    const shape = [5, 6];
    const n = 30;
    const mu = randomInputs(n, 3, -1, 1);
    const rho = randomInputs(n, 4, -4, 1);
    const weights = randomInputs(n, 5, -1, 1);
    const prior = {loc: 0.2, scale: 0.7};
    const gamma = 0.3;
    const got = runCase(shape, mu, rho, weights, gamma, prior, null);
    const s = reference(6, mu, rho, weights, gamma, prior, null).s;
    const loss = (m: number[], r: number[]): number => {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const sigma = softplus64(r[i]!) + SCALE_FLOOR;
        const ratio = sigma / prior.scale;
        const d = (m[i]! - prior.loc) / prior.scale;
        total += weights[i]! * (sigma / s[i % 6]!) ** 2 - 0.5 * weights[i]! * m[i]! + gamma * (0.5 * ratio * ratio - 0.5 + 0.5 * d * d - Math.log(sigma / prior.scale));
      }
      return total;
    };
    const m = [...mu];
    const r = [...rho];
    for (let i = 0; i < n; i++) {
      const dm = centralDifference(() => loss(m, r), () => m[i]!, (v) => { m[i] = v; });
      const dr = centralDifference(() => loss(m, r), () => r[i]!, (v) => { r[i] = v; });
      // The central difference's truncation error (h = 1e-6) and the float32 gradient's rounding.
      expect(Math.abs(got.dmu[i]! - dm)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(dm));
      expect(Math.abs(got.drho[i]! - dr)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(dr));
    }
  });

  it('leaks no tensors, forward or backward, and errors on mismatched shapes', () => {
    const mu = tf.tensor2d(randomInputs(12, 1, -1, 1), [3, 4]);
    const rho = tf.tensor2d(randomInputs(12, 2, -4, 1), [3, 4]);
    const bias = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
    const before = tf.memory().numTensors;
    for (const prior of [{loc: 0, scale: 1}, null]) {
      tf.tidy(() => {
        localVarianceTerms(mu, rho, bias, prior);
        tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          // (μ enters through the mean product too, as in the layers.)
          const terms = localVarianceTerms(a, b, bias, prior);
          return tf.addN([tf.sum(terms.scaledSquare), terms.kl ?? tf.scalar(0), tf.sum(a)]) as tf.Scalar;
        })([mu, rho]);
      });
      const out = localVarianceTerms(mu, rho, null, prior);
      tf.dispose([out.scaledSquare, out.scale, out.loc]);
      if (out.kl !== null) out.kl.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const off of [false, true]) {
      if (off) disableFastWasmKernels();
      expect(() => localVarianceTerms(mu, tf.ones([4, 3]), null, null)).toThrow(
          'localVarianceTerms: expected mu and rho of one shape of rank ≥ 1. Received: mu [3,4], rho [4,3]');
      expect(() => localVarianceTerms(mu, rho, tf.ones([3]), null)).toThrow(
          'localVarianceTerms: expected biasScale of shape [4] (the kernel\'s output channels). Received: [3]');
    }
    expect(enableFastWasmKernels()).toBe(true);
    tf.dispose([mu, rho, bias]);
  });

  it('falls back to the tfjs ops (with the same values) below 4 output channels, outside the fused prior range, with the kernels off', () => {
    const cases: Array<[number[], {loc: number, scale: number}|null]> = [[[5, 3], {loc: 0, scale: 1}], [[4, 1], null], [[3, 4], {loc: 0, scale: 1e38}]];
    for (const [shape, prior] of cases) {
      const n = shape[0]! * shape[1]!;
      const {mu, rho} = {mu: randomInputs(n, 8, -1, 1), rho: randomInputs(n, 9, -5, 2)};
      const weights = randomInputs(n, 10, -1, 1);
      expect(tf.tidy(() => fusedVarianceAvailable(tf.tensor(mu, shape), tf.tensor(rho, shape), null, prior))).toBe(false);
      const before = fusedVarianceCalls();
      const got = runCase(shape, mu, rho, weights, 0.5, prior, null);
      expect(fusedVarianceCalls()).toBe(before);
      const want = reference(shape[1]!, mu, rho, weights, 0.5, prior, null);
      expectNear('t', got.t, want.t, 24 * ULP, 1e-30);
      expectNear('dρ', got.drho, want.drho, 1e-5, 1e-6);
    }
    disableFastWasmKernels();
    const before = fusedVarianceCalls();
    runCase([3, 4], randomInputs(12, 1, -1, 1), randomInputs(12, 2, -3, 1), randomInputs(12, 3, -1, 1), 0.5, {loc: 0, scale: 1}, null);
    expect(fusedVarianceCalls()).toBe(before);
    expect(enableFastWasmKernels()).toBe(true);
  });
});

describe('localVarianceTerms: fused on wasm = the tfjs ops (wasm with the fast kernels off, and cpu)', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it.each([[[64, 10], {loc: 0, scale: 1}, true], [[3, 3, 4, 8], {loc: 0.1, scale: 0.5}, false], [[31, 6], null, true],
    [[257, 130], {loc: 0, scale: 0.3}, false], [[40, 12], 'mixture', true], [[2, 3, 2, 5], 'mixture', false]] as const)(
      'random inputs, kernel %p, prior %p, Bayesian bias %p (float32 rounding)', async (shape, prior, withBias) => {
        const n = shape.reduce((a: number, b: number) => a * b, 1);
        const out = shape[shape.length - 1]!;
        const mu = randomInputs(n, 21, -1, 1);
        const rho = randomInputs(n, 22, -8, 2);
        const weights = randomInputs(n, 23, -1, 1);
        const bias = withBias ? randomInputs(out, 24, 0.01, 0.4) : null;
        const testPrior: TestPrior = prior === 'mixture' ? {pi: 0.5, scale1: 1, scale2: 0.01, eps: randomInputs(n, 25, -2.5, 2.5)} : prior;
        const runs: Record<string, Case> = {};
        const g = 0.6;
        for (const setup of FUSED_SETUPS) {
          await useFusedSetup(setup);
          const before = fusedVarianceCalls();
          runs[setup] = runCase([...shape], mu, rho, weights, g, testPrior, bias);
          expect(fusedVarianceCalls() - before).toBe(setup === 'wasm-fused' ? 2 : 0);
        }
        const fused = runs['wasm-fused']!;
        // dρ sums terms that can cancel, each proportional to σ or 1/σ: the backends' σ (each within a few
        // ulps) move it by up to 16 ulps of the terms' magnitude M = |W·2σ/s²| + g·(σ/s_p² + 1/σ) (+ |a·ε|).
        const ref = varianceReference(out, rho, weights, bias);
        const mag = ref.sigma.map((v, i) => {
          let m = Math.abs(ref.dsigT[i]!);
          if (testPrior !== null && 'eps' in testPrior) {
            const w = mu[i]! + v * testPrior.eps[i]!;
            m += g / v + Math.abs(g * mixture64(w, testPrior.pi, testPrior.scale1, testPrior.scale2).grad * testPrior.eps[i]!);
          } else if (testPrior !== null) {
            m += g * (v / testPrior.scale ** 2 + 1 / v);
          }
          return m * sigmoid64(rho[i]!);
        });
        for (const other of ['cpu', 'wasm-off']) {
          const b = runs[other]!;
          expectNear(`t vs ${other}`, fused.t, b.t, 1e-5, 1e-7);
          expectNear(`s vs ${other}`, fused.s, b.s, 1e-6);
          if (prior === null) expect(fused.kl).toBeNull(); else expectNear(`kl vs ${other}`, [fused.kl!], [b.kl!], 1e-5, 1e-4);
          expectNear(`dμ vs ${other}`, fused.dmu, b.dmu, 1e-5, 1e-7);
          expectNear(`dρ vs ${other}`, fused.drho, b.drho, 1e-4, mag.map((m) => 16 * ULP * m + 1e-7));
          if (withBias) expectNear(`dσ_b vs ${other}`, fused.dbias!, b.dbias!, 0);
        }
      });
});

describe('localOutputSample: y = m + (√v·s)·ζ as one op', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  /** y and the gradients of Σ y ⊙ W in m, v and ζ. */
  function outputCase(shape: number[], m: number[], v: number[], s: number[], z: number[], weights: number[]) {
    return tf.tidy(() => {
      const [tm, tv, tz, tw] = [m, v, z, weights].map((a) => tf.tensor(a, shape));
      const ts = tf.tensor1d(s);
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(localOutputSample(a, b, ts, c), tw)) as tf.Scalar;
      const [dm, dv, dz] = tf.grads(loss)([tm!, tv!, tz!]);
      return {y: Array.from(localOutputSample(tm!, tv!, ts, tz!).dataSync()), dm: Array.from(dm!.dataSync()),
        dv: Array.from(dv!.dataSync()), dz: Array.from(dz!.dataSync())};
    });
  }

  it.each([[[5, 6], true], [[2, 3, 3, 4], true], [[4, 3], false]] as const)(
      'shape %p (fused %p): values and gradients against float64, including v = 0 (gradient 0) and v = 1e30', async (shape, fused) => {
        await useBackend('wasm');
        expect(enableFastWasmKernels()).toBe(true);
        const n = shape.reduce((a: number, b: number) => a * b, 1);
        const out = shape[shape.length - 1]!;
        const m = randomInputs(n, 31, -2, 2);
        // The first row all zeros (an all-zero input without a Bayesian bias), one variance of 1e30.
        const v = randomInputs(n, 32, 0, 3).map((x, i) => (i < out ? 0 : i === n - 1 ? 1e30 : x));
        const s = randomInputs(out, 33, 1e-3, 5);
        const z = randomInputs(n, 34, -3, 3);
        const weights = randomInputs(n, 35, -1, 1);
        const before = fusedOutputCalls();
        const got = outputCase([...shape], m, v, s, z, weights);
        expect(fusedOutputCalls() - before).toBe(fused ? 2 : 0);
        const root = v.map(Math.sqrt);
        // A square root, two products and a sum: 4 ulps of the terms' magnitudes.
        expectNear('y', got.y, m.map((a, i) => a + root[i]! * s[i % out]! * z[i]!), 0,
            m.map((a, i) => 4 * ULP * (Math.abs(a) + Math.abs(root[i]! * s[i % out]! * z[i]!))));
        expectNear('dm', got.dm, weights, 0);
        expectNear('dv', got.dv, v.map((x, i) => (x > 0 ? weights[i]! * z[i]! * s[i % out]! / (2 * root[i]!) : 0)), 6 * ULP, 2 ** -140);
        expectNear('dζ', got.dz, v.map((_, i) => weights[i]! * root[i]! * s[i % out]!), 6 * ULP);
        for (const x of [...got.y, ...got.dm, ...got.dv, ...got.dz]) expect(Number.isFinite(x)).toBe(true);
      });

  it('fused = the tfjs ops (fast kernels off, and cpu); leaks no tensors', async () => {
    const shape = [9, 10];
    const m = randomInputs(90, 41, -2, 2);
    const v = randomInputs(90, 42, 0, 3).map((x, i) => (i < 10 ? 0 : x));
    const s = randomInputs(10, 43, 0.1, 2);
    const z = randomInputs(90, 44, -3, 3);
    const w = randomInputs(90, 45, -1, 1);
    const runs: Record<string, ReturnType<typeof outputCase>> = {};
    for (const setup of FUSED_SETUPS) {
      await useFusedSetup(setup);
      runs[setup] = outputCase(shape, m, v, s, z, w);
    }
    for (const other of ['cpu', 'wasm-off']) {
      for (const key of ['y', 'dm', 'dv', 'dz'] as const) expectNear(`${key} vs ${other}`, runs['wasm-fused']![key], runs[other]![key], 1e-6, 1e-7);
    }
    const [tm, tv, tz] = [m, v, z].map((a) => tf.tensor(a, shape));
    const ts = tf.tensor1d(s);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(localOutputSample(a, b, ts, tz!)) as tf.Scalar)([tm!, tv!]);
    });
    localOutputSample(tm!, tv!, ts, tz!).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([tm!, tv!, tz!, ts]);
  });
});

type Model = 'dense'|'conv';

/** One seeded training-mode application of a two-layer model: output, loss (data + divergences) and every weight's gradient. */
function seededStep(kind: Model, bayesianBias: boolean, prior: 'gaussian'|'scaleMixture'):
    {out: number[], loss: number, grads: Record<string, number[]>} {
  const estimator = 'localReparameterization';
  const second = prior === 'gaussian' ? tfvGaussian({loc: 0.1, scale: 0.5}) : new ScaleMixturePrior({pi: 0.5, scale1: 1, scale2: 0.01});
  const model = kind === 'dense' ? tfl.sequential({layers: [
    bayesianDense({inputShape: [6], units: 5, activation: 'tanh', estimator, bayesianBias, numExamples: 30, seed: 11, prior}),
    bayesianDense({units: 4, estimator, bayesianBias, numExamples: 30, seed: 12, prior: second}),
  ]}) : tfl.sequential({layers: [
    bayesianConv2d({inputShape: [5, 5, 2], filters: 6, kernelSize: 3, activation: 'tanh', estimator, bayesianBias, numExamples: 30, seed: 11, prior}),
    bayesianConv2d({filters: 4, kernelSize: 2, padding: 'same', estimator, bayesianBias, numExamples: 30, seed: 12, prior: second}),
  ]});
  // Fixed weights (the initialisers' draws differ between runs).
  for (const w of model.trainableWeights) {
    const v = w.read();
    const base = w.originalName.includes('untransformed') ? -2 : 0;
    w.write(tf.tidy(() => tf.add(tf.mul(tf.tensor(uniformValues(v.size, v.size + 7), v.shape), 0.5), base)));
  }
  const inShape = kind === 'dense' ? [7, 6] : [3, 5, 5, 2];
  const size = inShape.reduce((a, b) => a * b, 1);
  // The first example all zeros: a variance of 0 without a Bayesian bias (the square root's gradient 0 there).
  const xv = Array.from(uniformValues(size, 51), (v, i) => (i < size / inShape[0]! ? 0 : v));
  const x = tf.tensor(xv, inShape);
  const result = tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    let out: number[] = [];
    const {value, grads} = tf.variableGrads(() => {
      const pred = model.apply(x, {training: true}) as tf.Tensor;
      out = Array.from(pred.dataSync());
      const data = tf.mean(tf.square(tf.sub(pred, 0.3)));
      return tf.addN([data, ...model.losses.map((l) => (typeof l === 'function' ? l() : l) as tf.Scalar)]) as tf.Scalar;
    }, vars);
    const g: Record<string, number[]> = {};
    model.trainableWeights.forEach((w, i) => { g[w.originalName.replace(/^[^/]*\//, '')] = Array.from(grads[vars[i]!.name]!.dataSync()); });
    return {out, loss: value.dataSync()[0]!, grads: g};
  });
  x.dispose();
  model.dispose();
  return result;
}

describe('Bayesian layers with local reparameterization take the fused terms', () => {
  afterAll(() => {
    disableFastWasmKernels();
  });

  it.each([['dense', false, 'gaussian'], ['dense', true, 'gaussian'], ['dense', false, 'scaleMixture'], ['dense', true, 'scaleMixture'],
    ['conv', false, 'gaussian'], ['conv', true, 'scaleMixture']] as const)(
      '%s (Bayesian bias %p, %s prior): the same seeded model gives the same output, loss and gradients fused on wasm, unfused on wasm and on cpu',
      async (kind, bayesianBias, prior) => {
        const runs: Record<string, ReturnType<typeof seededStep>> = {};
        // (Without the fast kernels the wasm backend has no Conv2DBackpropFilter: conv is compared with cpu.)
        const setups = kind === 'conv' ? ['cpu', 'wasm-fused'] as const : ['cpu', 'wasm-off', 'wasm-fused'] as const;
        for (const setup of setups) {
          await useBackend(setup === 'cpu' ? 'cpu' : 'wasm');
          if (setup === 'wasm-fused') expect(enableFastWasmKernels()).toBe(true); else disableFastWasmKernels();
          const before = fusedVarianceCalls();
          const samples = fusedSampleCalls();
          const outputs = fusedOutputCalls();
          runs[setup] = seededStep(kind, bayesianBias, prior);
          // Both layers' kernel terms (the mixture's divergence too) and outputs take the fused ops only there.
          expect(fusedVarianceCalls() - before).toBe(setup === 'wasm-fused' ? 2 : 0);
          expect(fusedOutputCalls() - outputs).toBe(setup === 'wasm-fused' ? 2 : 0);
          expect(fusedSampleCalls() - samples).toBe(0);
        }
        const fused = runs['wasm-fused']!;
        for (const other of setups.filter((n) => n !== 'wasm-fused')) {
          const b = runs[other]!;
          expectNear(`output vs ${other}`, fused.out, b.out, 1e-5, 1e-6);
          expectNear(`loss vs ${other}`, [fused.loss], [b.loss], 1e-5);
          expect(Object.keys(fused.grads).sort()).toEqual(Object.keys(b.grads).sort());
          for (const name of Object.keys(b.grads)) expectNear(`${name} vs ${other}`, fused.grads[name]!, b.grads[name]!, 1e-4, 1e-6);
          for (const name of Object.keys(b.grads)) for (const v of fused.grads[name]!) expect(Number.isFinite(v)).toBe(true);
        }
      });

  it('predictions and training steps on the fused path leak no tensors; a prediction draws only the output noise', async () => {
    await useBackend('wasm');
    expect(enableFastWasmKernels()).toBe(true);
    const model = tfl.sequential({layers: [
      bayesianDense({inputShape: [6], units: 5, activation: 'tanh', estimator: 'localReparameterization', bayesianBias: true, numExamples: 30, seed: 3}),
      bayesianDense({units: 4, estimator: 'localReparameterization', numExamples: 30, seed: 4, prior: 'scaleMixture'}),
    ]});
    model.compile({optimizer: tf.train.adam(0.01), loss: 'meanSquaredError'});
    const x = tf.tensor2d(uniformValues(7 * 6, 81), [7, 6]);
    const y = tf.tensor2d(uniformValues(7 * 4, 82), [7, 4]);
    await model.trainOnBatch(x, y);  // optimizer slots
    tf.dispose(model.predict(x) as tf.Tensor);
    const before = tf.memory().numTensors;
    const calls = fusedVarianceCalls();
    const samples = fusedSampleCalls();
    for (let i = 0; i < 3; i++) {
      await model.trainOnBatch(x, y);
      tf.dispose(model.predict(x) as tf.Tensor);
      tf.dispose(model.apply(x, {training: true}) as tf.Tensor);
    }
    // Two layers × (a step, a prediction, a training application) × 3, the mixture's divergence in the same op.
    expect(fusedVarianceCalls() - calls).toBe(18);
    expect(fusedSampleCalls() - samples).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });
});
