/**
 * Numerics at the extreme corners, table-driven, on every Node backend.
 *
 * Each row names a function, its inputs (float32 values: every input is
 * rounded with Math.fround before both the tensor and the reference see it),
 * a float64 reference written here in plain JS (log1p/expm1/log-space where
 * the naive double formula would itself overflow), and relative tolerances
 * with the float32 reason beside them. Every gradient element of Σ f (all
 * upstream gradients 1) with respect to every tensor input is checked: never
 * NaN, and against the reference derivative.
 *
 * Where the true value (or derivative) is beyond float32 (Math.fround of the
 * float64 reference is ±∞), the row asserts exactly that infinity — never
 * NaN, never a finite stand-in.
 *
 * Rows marked `fault` exercise functions in files outside the numerics work
 * (the KL layer's math, reparameterizeWithNoise) that fail them today; they
 * run as `test.failing`, so they turn into failures the day the fix lands and
 * must then become ordinary rows. The fix is `standardNormalKL` /
 * `sampleFromLogVariance` in src/distributions/normal.ts, tested here too.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

// First: it registers the backends, which registering the priors (imported below) already needs.
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {
  inverseSoftplusScale,
  normalKL,
  normalLogProb,
  normalLogProbOfNoise,
  sampleFromLogVariance,
  SCALE_FLOOR,
  softplusScale,
  standardNormalKL,
} from '../src/distributions/normal';
import {bayesianConv2d} from '../src/layers/bayesian_conv2d';
import {disableFastWasmKernels, enableFastWasmKernels} from '../src/perf';
import {bayesianDense} from '../src/layers/bayesian_dense';
import {denseFlipout, denseLocalReparameterization, denseReparameterization} from '../src/layers/dense_estimators';
import {gaussianKL, gaussianKLElementwise} from '../src/layers/kl_divergence';
import {reparameterizeWithNoise} from '../src/layers/reparameterize';
import {bernoulliNLL, categoricalNLL, gaussianNLL, PROBABILITY_EPSILON} from '../src/losses';
import {lgammaNumber} from '../src/distributions/special';
import {ConjugateKnownMeanPrior, ConjugatePrior} from '../src/priors/conjugate';
import {EmpiricalBayesPrior} from '../src/priors/empirical_bayes';
import {GaussianPrior} from '../src/priors/gaussian';
import type {Prior, PriorContext} from '../src/priors/prior';
import {ScaleMixturePrior} from '../src/priors/scale_mixture';
import type {LayerVariable} from '../src/util/tfjs_types';

// ---------------------------------------------------------------------------
// float64 references
// ---------------------------------------------------------------------------

const f32 = Math.fround;
const LOG_2PI = Math.log(2 * Math.PI);
const HALF_LOG_2PI = 0.5 * LOG_2PI;
/** The clip bounds of the probability losses as float32 holds them. */
const LO = f32(PROBABILITY_EPSILON);
const HI = f32(1 - PROBABILITY_EPSILON);
const FLOOR = f32(SCALE_FLOOR);

function softplus(l: number): number {
  return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
}
function sigmoid(l: number): number {
  return l >= 0 ? 1 / (1 + Math.exp(-l)) : Math.exp(l) / (1 + Math.exp(l));
}
function clip(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(v.reduce((s, a) => s + Math.exp(a - m), 0));
}
/** `½·d²·e^{−v}` in log space (the double product overflows too for v = −1000). */
function halfQuad(d: number, v: number): number {
  return d === 0 ? 0 : Math.exp(2 * Math.log(Math.abs(d)) - v - Math.LN2);
}
/** `d·e^{−v}` in log space. */
function dExpNeg(d: number, v: number): number {
  return d === 0 ? 0 : Math.sign(d) * Math.exp(Math.log(Math.abs(d)) - v);
}
/** `e^{v/2}·eps` in log space. */
function expHalfTimes(v: number, eps: number): number {
  return eps === 0 ? 0 : Math.sign(eps) * Math.exp(0.5 * v + Math.log(Math.abs(eps)));
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

type Values = Record<string, number[]>;

interface Row {
  /** Function and corner. */
  name: string;
  /** Tensor inputs: flat values and shape. Every one is differentiated. */
  inputs: Record<string, {values: number[]; shape: number[]}>;
  /** The function under test, on tensors named like `inputs`. */
  f: (t: Record<string, tf.Tensor>) => tf.Tensor;
  /** float64 reference of every output element. */
  ref: (v: Values) => number[];
  /** float64 reference of ∂(Σ output)/∂input, per input (omitted inputs: finiteness only). */
  dref?: (v: Values) => Partial<Record<string, number[]>>;
  /**
   * Optional per-element magnitude for the tolerance, when the value is a sum
   * of larger terms (a dot product, a cancellation): float32's error bound is
   * relative to Σ|terms|, not to the result.
   */
  mag?: (v: Values) => number[];
  /** Relative tolerance of the values and its float32 justification. */
  rtol: number;
  /** Absolute tolerance, only where `why` gives the float32 reason (default 0). */
  atol?: number;
  why: string;
  /** Relative tolerance of the gradients (default rtol), relative to |ref| (or gmag when given). */
  gtol?: number;
  gmag?: (v: Values) => Partial<Record<string, number[]>>;
  /** Known fault of a function in a file outside this work: the row runs as test.failing. */
  fault?: string;
}

function flat(shape: number[], values: number[]): {values: number[]; shape: number[]} {
  return {values, shape};
}
function col(values: number[]): {values: number[]; shape: number[]} {
  return {values, shape: [values.length, 1]};
}
function vec(values: number[]): {values: number[]; shape: number[]} {
  return {values, shape: [values.length]};
}

// --- losses ----------------------------------------------------------------

// One element per example ([n, 1]), so each per-example loss is one element's.
const BERN_L = [3e38, -3e38, 3e38, -3e38, 0, 30, -30, 1e4, -1e4];
const BERN_LX = [1, 0, 0, 1, 0.5, 1, 0, 0.3, 0.3];
const BERN_P = [0, 1, 0, 1, 0.5, 1e-7, 1 - 1e-7, 1e-30, 0.999];
const BERN_PX = [0, 0, 1, 1, 0.3, 1, 0, 0.5, 1];

const LOSS_ROWS: Row[] = [
  {
    name: 'bernoulliNLL({fromLogits: true}): logits ±3e38, 0, ±30, ±1e4; targets 0, 1, ½, 0.3',
    inputs: {x: col(BERN_LX), l: col(BERN_L)},
    f: (t) => bernoulliNLL({fromLogits: true})(t.x, t.l),
    ref: (v) => v.l.map((l, i) => (1 - v.x[i]) * softplus(l) + v.x[i] * softplus(-l)),
    // softplus(l) − x·l cancels for x = 1, l ≫ 0 (and x = 0, l ≪ 0): float32's bound is relative to the terms.
    mag: (v) => v.l.map((l, i) => softplus(l) + Math.abs(v.x[i] * l)),
    dref: (v) => ({l: v.l.map((l, i) => (1 - v.x[i]) * sigmoid(l) - v.x[i] * sigmoid(-l)), x: v.l.map((l) => -l)}),
    // σ(l) − x cancels the same way: relative to |σ(l)| + |x|.
    gmag: (v) => ({l: v.l.map((l, i) => sigmoid(l) + Math.abs(v.x[i]))}),
    rtol: 1e-6, why: 'a softplus kernel, a product and a subtraction, each rounded once, relative to the larger term (mag)',
  },
  {
    name: 'bernoulliNLL({fromLogits: true, checkTargets: true}): the same corners pass the check',
    inputs: {x: col(BERN_LX), l: col(BERN_L)},
    f: (t) => bernoulliNLL({fromLogits: true, checkTargets: true})(t.x, t.l),
    ref: (v) => v.l.map((l, i) => (1 - v.x[i]) * softplus(l) + v.x[i] * softplus(-l)),
    mag: (v) => v.l.map((l, i) => softplus(l) + Math.abs(v.x[i] * l)),
    dref: (v) => ({l: v.l.map((l, i) => (1 - v.x[i]) * sigmoid(l) - v.x[i] * sigmoid(-l))}),
    gmag: (v) => ({l: v.l.map((l, i) => sigmoid(l) + Math.abs(v.x[i]))}),
    rtol: 1e-6, why: 'as above',
  },
  {
    name: 'bernoulliNLL(): probabilities exactly 0 and 1, at the clip bounds, 1e-30',
    inputs: {x: col(BERN_PX), p: col(BERN_P)},
    f: (t) => bernoulliNLL()(t.x, t.p),
    ref: (v) => v.p.map((p, i) => {
      const q = clip(p, LO, HI);
      return -v.x[i] * Math.log(q) - (1 - v.x[i]) * Math.log1p(-q);
    }),
    // tf.clipByValue passes the gradient for lo ≤ p ≤ hi (bounds included) and 0 outside.
    dref: (v) => ({
      p: v.p.map((p, i) => (p >= LO && p <= HI ? -v.x[i] / p + (1 - v.x[i]) / (1 - p) : 0)),
      x: v.p.map((p) => {
        const q = clip(p, LO, HI);
        return -Math.log(q) + Math.log1p(-q);
      }),
    }),
    rtol: 2e-6, atol: 3e-8,
    why: 'log and log1p kernels of the clipped value (≤ 2 ulp each), then products and a sum; plus 2⁻²⁵ absolute: ' +
        'the wasm backend\'s Log1p is log(1 + x), whose 1 + x rounds to 2⁻²⁴ (log1p(−1e-7) = −1.19e-7 there)',
  },
  {
    name: 'bernoulliNLL({checkTargets: true}) (probabilities): the same corners pass the check',
    inputs: {x: col(BERN_PX), p: col(BERN_P)},
    f: (t) => bernoulliNLL({checkTargets: true})(t.x, t.p),
    ref: (v) => v.p.map((p, i) => {
      const q = clip(p, LO, HI);
      return -v.x[i] * Math.log(q) - (1 - v.x[i]) * Math.log1p(-q);
    }),
    rtol: 2e-6, atol: 3e-8, why: 'as above (wasm Log1p)',
  },
  ...([
    [undefined, 1],
    [1e-3, 1e-3],
    [1e30, 1e30],
    [1e-40, 1e-40],  // below float32's normal range: the constant √½/σ is applied in two factors
  ] as Array<[number|undefined, number]>).map(([option, scale]): Row => ({
    name: `gaussianNLL(${option === undefined ? '' : `{scale: ${option}}`}): |μ| 1e4, x = μ, |x − μ| 2e19 and 2e38`,
    // x = 3e38, μ = 0: the loss is +∞ for σ ≤ 1, its gradient 3e38/σ² still finite for σ = 1.
    inputs: {x: col([0, 1e4, -1e4, 2e19, 1e38, 5, 1e-30, 3e38]), mu: col([0, -1e4, 1e4, 0, -1e38, 5, 0, 0])},
    f: (t) => gaussianNLL(option === undefined ? undefined : {scale: option})(t.x, t.mu),
    // ½((x − μ)/σ)² in double: (x − μ)/σ is at most 1e68 here, its square fits a double.
    ref: (v) => v.x.map((x, i) => 0.5 * ((x - v.mu[i]) / scale) ** 2 + Math.log(scale) + HALF_LOG_2PI),
    dref: (v) => ({
      x: v.x.map((x, i) => (x - v.mu[i]) / scale / scale),
      mu: v.x.map((x, i) => -(x - v.mu[i]) / scale / scale),
    }),
    rtol: 1e-6, why: 'one subtraction, one or two multiplies by the double-precision factor √½/σ, a square and an add',
  })),
  {
    name: 'gaussianNLL({learnedVariance: true}): x = μ with logVar −180 (the NaN of the bug report), −1e3, 1e3',
    inputs: {x: col([0, 0, 0, 7, 1]), yPred: flat([5, 2], [0, -180, 0, -1e3, 0, 1e3, 7, -1e3, 0, 1e3])},
    f: (t) => gaussianNLL({learnedVariance: true})(t.x, t.yPred),
    ref: (v) => v.x.map((x, i) => halfQuad(x - v.yPred[2 * i], v.yPred[2 * i + 1]) + 0.5 * (v.yPred[2 * i + 1] + LOG_2PI)),
    dref: (v) => ({
      x: v.x.map((x, i) => dExpNeg(x - v.yPred[2 * i], v.yPred[2 * i + 1])),
      yPred: v.x.flatMap((x, i) => {
        const d = x - v.yPred[2 * i];
        const lv = v.yPred[2 * i + 1];
        return [-dExpNeg(d, lv), 0.5 - halfQuad(d, lv)];
      }),
    }),
    rtol: 1e-6, why: 'x = μ: the value is ½(v + log 2π), one add and one multiply; the quadratic is exactly 0',
  },
  {
    name: 'gaussianNLL({learnedVariance: true}): log-space branch (|logVar| > 170) with finite quadratic terms',
    // (x − μ, v): (1e-30, −200) → 3.6e26; (1e-35, −171) → 9e3; (1e-40, −180) → 7.5e-3; (1, 171); (3e38, 1e3); (1e-30, −180) → ∞
    inputs: {
      x: col([1e-30, 1e-35, 1e-40, 1, 3e38, 1e-30]),
      yPred: flat([6, 2], [0, -200, 0, -171, 0, -180, 0, 171, 0, 1e3, 0, -180]),
    },
    f: (t) => gaussianNLL({learnedVariance: true})(t.x, t.yPred),
    ref: (v) => v.x.map((x, i) => halfQuad(x - v.yPred[2 * i], v.yPred[2 * i + 1]) + 0.5 * (v.yPred[2 * i + 1] + LOG_2PI)),
    dref: (v) => ({
      x: v.x.map((x, i) => dExpNeg(x - v.yPred[2 * i], v.yPred[2 * i + 1])),
      yPred: v.x.flatMap((x, i) => {
        const d = x - v.yPred[2 * i];
        const lv = v.yPred[2 * i + 1];
        return [-dExpNeg(d, lv), 0.5 - halfQuad(d, lv)];
      }),
    }),
    rtol: 5e-5,
    why: 'exp of an argument 2·log|x − μ| − v of magnitude up to ~360 rounded to float32 (and log of a subnormal): ' +
        'relative error ≈ (|v| + 2|log|x − μ||)·2⁻²⁴ ≈ 2e-5, the sensitivity of e^{−v} to v\'s own rounding',
  },
  {
    name: 'gaussianNLL({learnedVariance: true}): direct branch, |μ| 1e4, |x − μ| up to 2e19, true values beyond float32 → +∞',
    // (x, μ, v): (1e4 − (−1e4), 0); (2e19, 0) → 2e38 fits; (1e20, 88) → 30; (1e-35, −170); (1e4, −80) → 2.8e42 = ∞;
    // (3e38, −3e38, 0): x − μ overflows, so does the loss → ∞.
    inputs: {
      x: col([1e4, 2e19, 1e20, 1e-35, 1e4, 3e38, 1]),
      yPred: flat([7, 2], [-1e4, 0, 0, 0, 0, 88, 0, -170, 0, -80, -3e38, 0, 1, 0]),
    },
    f: (t) => gaussianNLL({learnedVariance: true})(t.x, t.yPred),
    ref: (v) => v.x.map((x, i) => halfQuad(x - v.yPred[2 * i], v.yPred[2 * i + 1]) + 0.5 * (v.yPred[2 * i + 1] + LOG_2PI)),
    dref: (v) => ({
      x: v.x.map((x, i) => dExpNeg(x - v.yPred[2 * i], v.yPred[2 * i + 1])),
      yPred: v.x.flatMap((x, i) => {
        const d = x - v.yPred[2 * i];
        const lv = v.yPred[2 * i + 1];
        return [-dExpNeg(d, lv), 0.5 - halfQuad(d, lv)];
      }),
    }),
    rtol: 1e-6, why: 'e^{−v/2} for |v| ≤ 170 (1 ulp), two multiplies, a square, an add: ≤ 6·2⁻²⁴',
  },
  {
    name: 'gaussianNLL({learnedVariance: true, checkTargets: true}): the bug report\'s case passes the check',
    inputs: {x: col([0]), yPred: flat([1, 2], [0, -180])},
    f: (t) => gaussianNLL({learnedVariance: true, checkTargets: true})(t.x, t.yPred),
    ref: () => [0.5 * (-180 + LOG_2PI)],
    dref: () => ({x: [0], yPred: [0, 0.5]}),
    rtol: 1e-6, why: 'one add and one multiply',
  },
  ...([false, true] as const).map((checkTargets): Row => ({
    name: `categoricalNLL({fromLogits: true${checkTargets ? ', checkTargets: true' : ''}}): logits ±3e38 (gap beyond float32), ±1e4, ±80, ties`,
    inputs: {
      y: flat([7, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]),
      l: flat([7, 3], [3e38, -3e38, 0, 3e38, -3e38, 0, 3e38, -3e38, 0, 1e4, 0, -1e4, -1e4, -1e4, -1e4, 80, -80, 0, 0, 0, 0]),
    },
    f: (t) => categoricalNLL({fromLogits: true, checkTargets})(t.y, t.l),
    ref: (v) => [0, 1, 2, 3, 4, 5, 6].map((b) => {
      const l = v.l.slice(3 * b, 3 * b + 3);
      const lse = logSumExp(l);
      return -[0, 1, 2].reduce((s, c) => s + (v.y[3 * b + c] === 0 ? 0 : v.y[3 * b + c] * (l[c] - lse)), 0);
    }),
    dref: (v) => {
      const dl: number[] = [];
      const dy: number[] = [];
      for (let b = 0; b < 7; b++) {
        const l = v.l.slice(3 * b, 3 * b + 3);
        const y = v.y.slice(3 * b, 3 * b + 3);
        const lse = logSumExp(l);
        const sy = y.reduce((a, c) => a + c, 0);
        l.forEach((lc, c) => {
          dl.push(Math.exp(lc - lse) * sy - y[c]);
          dy.push(-(lc - lse));
        });
      }
      return {l: dl, y: dy};
    },
    // The value is l_max − l_c + log Σ e^{l − max}: rounding of the log (1 ulp) and of the shifted logit
    // (1 ulp of |l_c − max|, up to 2e4 here).
    rtol: 1e-6, why: 'one rounding of the shifted logit and of log Σ e^{l − max}, each ≤ 2⁻²⁴ relative',
  })),
  {
    name: 'categoricalNLL(): probabilities exactly 0 and 1, below the clip, soft targets',
    inputs: {
      y: flat([4, 3], [1, 0, 0, 0, 1, 0, 0.5, 0.5, 0, 0, 0, 1]),
      p: flat([4, 3], [1, 0, 0, 1, 0, 0, 0, 0.5, 0.5, 1e-30, 0, 1]),
    },
    f: (t) => categoricalNLL()(t.y, t.p),
    ref: (v) => [0, 1, 2, 3].map((b) => -[0, 1, 2].reduce((s, c) => s + v.y[3 * b + c] * Math.log(clip(v.p[3 * b + c], LO, 1)), 0)),
    dref: (v) => ({
      p: v.p.map((p, i) => (p >= LO && p <= 1 ? -v.y[i] / p : 0)),
      y: v.p.map((p) => -Math.log(clip(p, LO, 1))),
    }),
    rtol: 1e-6, why: 'a log kernel (≤ 2 ulp), a product and a three-term sum',
  },
  {
    name: 'categoricalNLL({checkTargets: true}): one-hot and soft targets in [0, 1] pass the check',
    inputs: {y: flat([2, 3], [1, 0, 0, 0.25, 0.25, 0.5]), p: flat([2, 3], [1, 0, 0, 0.2, 0.3, 0.5])},
    f: (t) => categoricalNLL({checkTargets: true})(t.y, t.p),
    ref: (v) => [0, 1].map((b) => -[0, 1, 2].reduce((s, c) => s + v.y[3 * b + c] * Math.log(clip(v.p[3 * b + c], LO, 1)), 0)),
    rtol: 1e-6, why: 'as above',
  },
];

// --- KL layer math, reparameterization -------------------------------------

/** KL(N(μ, e^v) ‖ N(0, 1)) = ½(expm1(v) − v + μ²), exact in double for every v here. */
function klRef(mu: number, v: number): number {
  return 0.5 * (Math.expm1(v) - v + mu * mu);
}
const KL_MU = [0, 0, 1e4, 0, 0, 1, -3];
const KL_V = [1e3, -1e3, 0, 0, 88, 0.5, -2];
const KL_FAULT_MU = [2e19, 0, 0];
const KL_FAULT_V = [0, 89, 1e-4];

const KL_ROWS: Row[] = [
  ...([['gaussianKLElementwise', gaussianKLElementwise], ['standardNormalKL (normal.ts)', standardNormalKL]] as const)
      .map(([label, fn]): Row => ({
        name: `${label}: logVar ±1e3 (e^1000 → +∞), |μ| 1e4, logVar 88 (½e^v = 8e37)`,
        inputs: {mu: vec(KL_MU), v: vec(KL_V)},
        f: (t) => fn(t.mu, t.v),
        ref: (v) => v.mu.map((m, i) => klRef(m, v.v[i])),
        dref: (v) => ({mu: v.mu, v: v.v.map((lv) => 0.5 * Math.expm1(lv))}),
        mag: (v) => v.mu.map((m, i) => 0.5 * (Math.exp(v.v[i]) + m * m + 1 + Math.abs(v.v[i]))),
        rtol: 1e-6, why: 'a sum of four terms, each rounded once: error ≤ 4·2⁻²⁴ of the largest term (mag)',
      })),
  {
    name: 'gaussianKLElementwise: μ = 2e19 (½μ² = 2e38 fits), logVar 89 (½e^89 = 2.2e38 fits), logVar 1e-4 (KL 5e-9)',
    inputs: {mu: vec(KL_FAULT_MU), v: vec(KL_FAULT_V)},
    f: (t) => gaussianKLElementwise(t.mu, t.v),
    ref: (v) => v.mu.map((m, i) => klRef(m, v.v[i])),
    dref: (v) => ({mu: v.mu, v: v.v.map((lv) => 0.5 * Math.expm1(lv))}),
    rtol: 1e-5, why: 'relative to the KL itself: expm1(v) − v cancels only to O(v²), and v = 1e-4 is exact to 1 ulp',
  },
  {
    name: 'standardNormalKL (normal.ts): the same corners μ = 2e19, logVar 89, logVar 1e-4',
    inputs: {mu: vec(KL_FAULT_MU), v: vec(KL_FAULT_V)},
    f: (t) => standardNormalKL(t.mu, t.v),
    ref: (v) => v.mu.map((m, i) => klRef(m, v.v[i])),
    dref: (v) => ({mu: v.mu, v: v.v.map((lv) => 0.5 * Math.expm1(lv))}),
    rtol: 1e-5, why: 'expm1(v) − v for v = 1e-4: the difference 5e-9 of two ~1e-4 values keeps ~11 of 24 bits (2⁻¹¹·… ≈ 1e-5 relative is the float32 floor here)',
  },
  ...([[0, 0], [0.25, 0], [500, 0], [0, 1e3], [0.25, 1e3]] as const).map(([freeBits, big]): Row => ({
    name: `gaussianKL(mu, logVar, freeBits ${freeBits}): batch of 2, |μ| 1e4, logVar −1e3` +
        (big > 0 ? ', one logVar 1e3 (the KL and its logVar-gradient are +∞)' : ''),
    inputs: {mu: flat([2, 3], [1e4, 0, 0.5, -1e4, 0, 0]), v: flat([2, 3], [0, -1e3, 0.1, 0, -1e3, big > 0 ? big : -0.3])},
    f: (t) => gaussianKL(t.mu, t.v, freeBits),
    ref: (v) => {
      const kl = v.mu.map((m, i) => klRef(m, v.v[i]));
      const means = [0, 1, 2].map((d) => (kl[d] + kl[3 + d]) / 2);
      return [freeBits > 0 ? means.reduce((s, m) => s + Math.max(freeBits, m), 0) : means.reduce((s, m) => s + m, 0)];
    },
    dref: (v) => {
      const kl = v.mu.map((m, i) => klRef(m, v.v[i]));
      // max(λ, mean) passes the gradient where the mean is above λ (no ties in these rows).
      const pass = [0, 1, 2].map((d) => (freeBits === 0 || (kl[d] + kl[3 + d]) / 2 > freeBits ? 0.5 : 0));
      return {mu: v.mu.map((m, i) => pass[i % 3] * m), v: v.v.map((lv, i) => pass[i % 3] * 0.5 * Math.expm1(lv))};
    },
    rtol: 1e-6, why: 'six KL terms, a mean over 2 and a sum over 3: ≤ 10·2⁻²⁴',
  })),
  ...([['reparameterizeWithNoise', reparameterizeWithNoise], ['sampleFromLogVariance (normal.ts)', sampleFromLogVariance]] as const)
      .map(([label, fn]): Row => ({
        name: `${label}: logVar −1e3, |μ| 1e4, logVar 170, logVar 1e3 with ε = 1 → +∞`,
        inputs: {mu: vec([1, 1e4, 0, 0, -1e4, 3]), v: vec([-1e3, 0, 170, 1e3, 20, -1e3]), eps: vec([5, 1, 1, 1, -2, 0])},
        f: (t) => fn(t.mu, t.v, t.eps),
        ref: (v) => v.mu.map((m, i) => m + expHalfTimes(v.v[i], v.eps[i])),
        dref: (v) => ({
          mu: v.mu.map(() => 1),
          v: v.v.map((lv, i) => 0.5 * expHalfTimes(lv, v.eps[i])),
          eps: v.v.map((lv) => Math.exp(0.5 * lv)),
        }),
        mag: (v) => v.mu.map((m, i) => Math.abs(m) + Math.abs(expHalfTimes(v.v[i], v.eps[i]))),
        rtol: 1e-6, why: 'exp (1 ulp), one multiply and one add, relative to |μ| + |e^{v/2}ε| (mag)',
      })),
  {
    name: 'reparameterizeWithNoise: logVar 1e3 with ε = 0 (sample = μ), logVar 180 with ε = 1e-30 (1.2e9)',
    inputs: {mu: vec([2, 0]), v: vec([1e3, 180]), eps: vec([0, 1e-30])},
    f: (t) => reparameterizeWithNoise(t.mu, t.v, t.eps),
    ref: (v) => v.mu.map((m, i) => m + expHalfTimes(v.v[i], v.eps[i])),
    dref: (v) => ({v: v.v.map((lv, i) => 0.5 * expHalfTimes(lv, v.eps[i])), eps: v.v.map((lv) => Math.exp(0.5 * lv))}),
    rtol: 2e-5, why: 'exp of an argument ~90 in float32: (|v|/2)·2⁻²⁴ ≈ 1e-5 relative',
  },
  {
    name: 'sampleFromLogVariance (normal.ts): logVar 1e3 with ε = 0, logVar 180 with ε = 1e-30',
    inputs: {mu: vec([2, 0]), v: vec([1e3, 180]), eps: vec([0, 1e-30])},
    f: (t) => sampleFromLogVariance(t.mu, t.v, t.eps),
    ref: (v) => v.mu.map((m, i) => m + expHalfTimes(v.v[i], v.eps[i])),
    dref: (v) => ({v: v.v.map((lv, i) => 0.5 * expHalfTimes(lv, v.eps[i])), eps: v.v.map((lv) => Math.exp(0.5 * lv))}),
    rtol: 2e-5, why: 'exp of an argument ~90 in float32: (|v|/2)·2⁻²⁴ ≈ 1e-5 relative',
  },
];

// --- normal.ts --------------------------------------------------------------

const NORMAL_ROWS: Row[] = [
  {
    name: 'normalLogProb(x, loc, scale tensor): scale at the softplus floor and 1e30, |μ| 1e4, x = loc, |x − loc| 2e19',
    inputs: {
      x: vec([0, 1e4, 2e19, 1, 5, -3e38]),
      loc: vec([0, -1e4, 0, 0, 5, 3e38]),
      scale: vec([SCALE_FLOOR, SCALE_FLOOR, 1, 1e30, 1e3, 1]),
    },
    f: (t) => normalLogProb(t.x, t.loc, t.scale),
    ref: (v) => v.x.map((x, i) => -0.5 * ((x - v.loc[i]) / v.scale[i]) ** 2 - Math.log(v.scale[i]) - HALF_LOG_2PI),
    dref: (v) => ({
      x: v.x.map((x, i) => -(x - v.loc[i]) / v.scale[i] ** 2),
      loc: v.x.map((x, i) => (x - v.loc[i]) / v.scale[i] ** 2),
      scale: v.x.map((x, i) => (x - v.loc[i]) ** 2 / v.scale[i] ** 3 - 1 / v.scale[i]),
    }),
    rtol: 1e-6, why: 'sub, multiply by √½, divide, square, log, two subtractions: ≤ 7·2⁻²⁴',
  },
  ...([1e-5, 1e30, 1e-40] as const).map((scale): Row => ({
    name: `normalLogProb(x, loc, scale number ${scale}): x = loc, |μ| 1e4`,
    inputs: {x: vec([0, 1e4, 1e-30, 3]), loc: vec([0, -1e4, 0, 3])},
    f: (t) => normalLogProb(t.x, t.loc, scale),
    ref: (v) => v.x.map((x, i) => -0.5 * ((x - v.loc[i]) / scale) ** 2 - Math.log(scale) - HALF_LOG_2PI),
    dref: (v) => ({x: v.x.map((x, i) => -(x - v.loc[i]) / scale / scale), loc: v.x.map((x, i) => (x - v.loc[i]) / scale / scale)}),
    rtol: 1e-6, why: 'sub, one or two multiplies by the double factor √½/scale, square, two subtractions',
  })),
  {
    name: 'normalLogProbOfNoise: eps 0, 2e19 (½eps² = 2e38 fits), 3e38 (→ −∞), scale at the floor, 1e30',
    inputs: {eps: vec([0, 2e19, 1e4, -3, 3e38]), scale: vec([SCALE_FLOOR, 1, 1e30, 1e3, 1])},
    f: (t) => normalLogProbOfNoise(t.eps, t.scale),
    ref: (v) => v.eps.map((e, i) => -0.5 * e * e - Math.log(v.scale[i]) - HALF_LOG_2PI),
    dref: (v) => ({eps: v.eps.map((e) => -e), scale: v.scale.map((s) => -1 / s)}),
    rtol: 1e-6, why: 'multiply, square, log, two subtractions',
  },
  {
    name: 'normalKL(locQ, scaleQ, 0, 1): scaleQ at the floor, 1e3, 2e19 (½r² = 2e38 fits), |μ| 1e4, q = p',
    inputs: {loc: vec([1e4, 0, 0, 0, -1e4]), scale: vec([SCALE_FLOOR, 1e3, 1, 2e19, 3])},
    f: (t) => normalKL(t.loc, t.scale, 0, 1),
    ref: (v) => v.loc.map((m, i) => 0.5 * (v.scale[i] ** 2 + m * m) - 0.5 - Math.log(v.scale[i])),
    dref: (v) => ({loc: v.loc, scale: v.scale.map((s) => s - 1 / s)}),
    mag: (v) => v.loc.map((m, i) => 0.5 * (v.scale[i] ** 2 + m * m) + 0.5 + Math.abs(Math.log(v.scale[i]))),
    rtol: 1e-6, why: 'four terms each rounded once or twice: ≤ 6·2⁻²⁴ of the largest (mag; q = p cancels to exactly 0)',
  },
  {
    name: 'normalKL(locQ, scaleQ, 0, 1e38): the ratio 1e-43 underflows float32\'s normal range (log taken as a difference)',
    inputs: {loc: vec([0, 1e30]), scale: vec([SCALE_FLOOR, 1])},
    f: (t) => normalKL(t.loc, t.scale, 0, 1e38),
    ref: (v) => v.loc.map((m, i) => 0.5 * ((v.scale[i] / 1e38) ** 2 + (m / 1e38) ** 2) - 0.5 - Math.log(v.scale[i] / 1e38)),
    dref: (v) => ({loc: v.loc.map((m) => m / 1e76), scale: v.scale.map((s) => s / 1e76 - 1 / s)}),
    rtol: 1e-6, why: 'log scaleQ − log 1e38 (double): two roundings of a ~100 result',
  },
  {
    name: 'normalKL(locQ, scaleQ, locP, scaleP) all tensors: prior scales at the floor, 1, 1e30; |μ| 1e4',
    inputs: {
      locQ: vec([1e4, 0, 1, 0]),
      scaleQ: vec([SCALE_FLOOR, 1e3, 1, 1e20]),
      locP: vec([-1e4, 0, 1, 5]),
      scaleP: vec([1, SCALE_FLOOR, 1e30, 1e20]),
    },
    f: (t) => normalKL(t.locQ, t.scaleQ, t.locP, t.scaleP),
    ref: (v) => v.locQ.map((m, i) => {
      const r = v.scaleQ[i] / v.scaleP[i];
      const d = (m - v.locP[i]) / v.scaleP[i];
      return 0.5 * (r * r + d * d) - 0.5 - Math.log(r);
    }),
    dref: (v) => {
      const d = v.locQ.map((m, i) => m - v.locP[i]);
      return {
        locQ: d.map((di, i) => di / v.scaleP[i] ** 2),
        locP: d.map((di, i) => -di / v.scaleP[i] ** 2),
        scaleQ: v.scaleQ.map((s, i) => s / v.scaleP[i] ** 2 - 1 / s),
        scaleP: v.scaleP.map((p, i) => 1 / p - (v.scaleQ[i] ** 2 + d[i] ** 2) / p ** 3),
      };
    },
    mag: (v) => v.locQ.map((m, i) => {
      const r = v.scaleQ[i] / v.scaleP[i];
      const d = (m - v.locP[i]) / v.scaleP[i];
      return 0.5 * (r * r + d * d) + 0.5 + Math.abs(Math.log(r));
    }),
    rtol: 1e-6, why: 'as above; relative to the largest term (mag)',
    gmag: (v) => {
      const d = v.locQ.map((m, i) => m - v.locP[i]);
      return {
        scaleQ: v.scaleQ.map((s, i) => s / v.scaleP[i] ** 2 + 1 / s),
        scaleP: v.scaleP.map((p, i) => 1 / p + (v.scaleQ[i] ** 2 + d[i] ** 2) / p ** 3),
      };
    },
  },
  {
    name: 'softplusScale: ρ ±1e3, ±3e38, 0, −20 (σ at the floor)',
    inputs: {rho: vec([-1e3, 1e3, 0, -3e38, 3e38, -20])},
    f: (t) => softplusScale(t.rho),
    ref: (v) => v.rho.map((r) => softplus(r) + FLOOR),
    dref: (v) => ({rho: v.rho.map(sigmoid)}),
    rtol: 1e-6, why: 'the softplus kernel and one add',
  },
];

// --- priors -------------------------------------------------------------------

/** log(π N(w; 0, s1²) + (1 − π) N(w; 0, s2²)) in double, and its derivative. */
function mixtureRef(pi: number, s1: number, s2: number, w: number): {value: number; grad: number} {
  const a = Math.log(pi) - 0.5 * (w / s1) ** 2 - Math.log(s1) - HALF_LOG_2PI;
  const b = Math.log1p(-pi) - 0.5 * (w / s2) ** 2 - Math.log(s2) - HALF_LOG_2PI;
  const value = logSumExp([a, b]);
  const wa = Number.isFinite(value) ? Math.exp(a - value) : 1;
  const wb = Number.isFinite(value) ? Math.exp(b - value) : 0;
  return {value, grad: -w * (wa / (s1 * s1) + wb / (s2 * s2))};
}

/** Posterior scales from ρ: softplus(ρ) + floor as float32 computes it (the reference works from these values). */
const RHO = [-1e3, 1e3, 0, 2];
const PRIOR_LOC = [1e4, 0, -1e4, 0.5];

const MIXTURES: Array<[string, ScaleMixturePrior, number, number, number]> = [
  ['scaleMixture() (π ½, σ₁ 1, σ₂ e⁻⁶)', new ScaleMixturePrior(), 0.5, 1, Math.exp(-6)],
  ['scaleMixture({pi: 0.25, scale1: e⁻⁷, scale2: 2}) (narrow first)',
    new ScaleMixturePrior({pi: 0.25, scale1: Math.exp(-7), scale2: 2}), 0.25, Math.exp(-7), 2],
];

const PRIOR_ROWS: Row[] = [
  ...([[1, 0], [1e-5, 3], [1e30, 0]] as const).map(([scale, loc]): Row => ({
    name: `GaussianPrior({loc: ${loc}, scale: ${scale}}).logProb: w = loc, |w| 1e4, 2e19 (fits), 3e38 (→ −∞ for small scales)`,
    inputs: {w: vec([loc, 1e4, 2e19, -3e38])},
    f: (t) => new GaussianPrior({loc, scale}).logProb(t.w),
    ref: (v) => v.w.map((w) => -0.5 * ((w - loc) / scale) ** 2 - Math.log(scale) - HALF_LOG_2PI),
    dref: (v) => ({w: v.w.map((w) => -(w - loc) / scale / scale)}),
    rtol: 1e-6, why: 'sub, one multiply by the double √½/scale, square, two subtractions',
  })),
  ...([1, 1e-5, 1e30] as const).map((priorScale): Row => ({
    name: `GaussianPrior({scale: ${priorScale}}).analyticKL(μ, softplusScale(ρ)): ρ ±1e3, |μ| 1e4`,
    inputs: {loc: vec(PRIOR_LOC), rho: vec(RHO)},
    f: (t) => new GaussianPrior({scale: priorScale}).analyticKL(t.loc, softplusScale(t.rho)),
    ref: (v) => v.loc.map((m, i) => {
      const s = f32(softplus(v.rho[i]) + FLOOR);
      return 0.5 * ((s / priorScale) ** 2 + (m / priorScale) ** 2) - 0.5 - Math.log(s / priorScale);
    }),
    dref: (v) => ({
      loc: v.loc.map((m) => m / priorScale ** 2),
      rho: v.rho.map((r) => {
        const s = f32(softplus(r) + FLOOR);
        return (s / priorScale ** 2 - 1 / s) * sigmoid(r);
      }),
    }),
    mag: (v) => v.loc.map((m, i) => {
      const s = f32(softplus(v.rho[i]) + FLOOR);
      return 0.5 * ((s / priorScale) ** 2 + (m / priorScale) ** 2) + 0.5 + Math.abs(Math.log(s / priorScale));
    }),
    rtol: 2e-6, why: 'KL terms each rounded once or twice, relative to the largest (mag)',
    gmag: (v) => ({
      rho: v.rho.map((r) => {
        const s = f32(softplus(r) + FLOOR);
        return (s / priorScale ** 2 + 1 / s) * sigmoid(r);
      }),
    }),
  })),
  {
    name: 'GaussianPrior().divergence(μ, softplusScale(ρ), null): the closed form summed, ρ ±1e3, |μ| 1e4',
    inputs: {loc: vec(PRIOR_LOC), rho: vec(RHO)},
    f: (t) => new GaussianPrior().divergence(t.loc, softplusScale(t.rho), null),
    ref: (v) => [v.loc.reduce((sum, m, i) => {
      const s = f32(softplus(v.rho[i]) + FLOOR);
      return sum + 0.5 * (s * s + m * m) - 0.5 - Math.log(s);
    }, 0)],
    dref: (v) => ({loc: v.loc, rho: v.rho.map((r) => (f32(softplus(r) + FLOOR) - 1 / f32(softplus(r) + FLOOR)) * sigmoid(r))}),
    gmag: (v) => ({rho: v.rho.map((r) => (f32(softplus(r) + FLOOR) + 1 / f32(softplus(r) + FLOOR)) * sigmoid(r))}),
    rtol: 1e-6, why: 'a sum of four positive KLs (the first 5e7): ≤ 8·2⁻²⁴',
  },
  ...MIXTURES.map(([label, prior, pi, s1, s2]): Row => ({
    name: `${label}.logProb: w 0, 1e-3, 1, |w| 1e4, 2e19 (fits), ±3e38 (→ −∞)`,
    inputs: {w: vec([0, 1e-3, 1, -1e4, 2e19, 3e38, -3e38, 0.01])},
    f: (t) => prior.logProb(t.w),
    ref: (v) => v.w.map((w) => mixtureRef(pi, s1, s2, w).value),
    dref: (v) => ({w: v.w.map((w) => mixtureRef(pi, s1, s2, w).grad)}),
    rtol: 2e-6, why: 'the wide log-density (≤ 5 roundings), a softplus of a ≤ 5-rounding difference',
  })),
  ...MIXTURES.map(([label, prior, pi, s1, s2]): Row => ({
    name: `${label}.divergence(μ, softplusScale(ρ), eps): Monte Carlo, ρ ±1e3, |μ| 1e4, eps 0`,
    inputs: {loc: vec(PRIOR_LOC), rho: vec(RHO), eps: vec([0, 1, -2, 0.5])},
    f: (t) => prior.divergence(t.loc, softplusScale(t.rho), t.eps),
    ref: (v) => [v.loc.reduce((sum, m, i) => {
      const s = f32(softplus(v.rho[i]) + FLOOR);
      const w = f32(m + f32(s * v.eps[i]));
      return sum - 0.5 * v.eps[i] ** 2 - Math.log(s) - HALF_LOG_2PI - mixtureRef(pi, s1, s2, w).value;
    }, 0)],
    dref: (v) => {
      const parts = v.loc.map((m, i) => {
        const s = f32(softplus(v.rho[i]) + FLOOR);
        const w = f32(m + f32(s * v.eps[i]));
        return {s, g: mixtureRef(pi, s1, s2, w).grad};
      });
      return {
        loc: parts.map((p) => -p.g),
        rho: parts.map((p, i) => (-1 / p.s - v.eps[i] * p.g) * sigmoid(v.rho[i])),
        eps: parts.map((p, i) => -v.eps[i] - p.s * p.g),
      };
    },
    // The sum is dominated by −log p(1e4) ≈ 5e7; its rounding (2⁻²⁴ relative) sets the tolerance.
    rtol: 2e-6, why: 'a sum of four terms up to 5e7, each ≤ 8 roundings',
    gtol: 2e-5, gmag: (v) => ({rho: v.rho.map(() => 1e3)}),
  })),
];

// --- the conjugate, fan-in and empirical-Bayes priors ---------------------------

/**
 * The Normal-Gamma log marginal likelihood of w (kappa0 = null: the known-mean
 * Gamma-precision one) and its gradient, in double, with βₙ in log space
 * (Σ(w − w̄)² of 1e20s is 1e40, beyond float32 but not double).
 */
function conjugateRef(w: number[], mu0: number, kappa0: number|null, alpha0: number, beta0: number): {value: number; grad: number[]} {
  const n = w.length;
  const alphaN = alpha0 + n / 2;
  const mean = kappa0 === null ? mu0 : w.reduce((a, b) => a + b, 0) / n;
  const kappaN = kappa0 === null ? 0 : kappa0 + n;
  const shift = kappa0 === null ? 0 : kappa0 * n * (mean - mu0) ** 2 / (2 * kappaN);
  const betaN = beta0 + w.reduce((a, x) => a + (x - mean) ** 2, 0) / 2 + shift;
  let value = lgammaNumber(alphaN) - lgammaNumber(alpha0) + alpha0 * Math.log(beta0) - alphaN * Math.log(betaN) - n * HALF_LOG_2PI;
  if (kappa0 !== null) value += 0.5 * Math.log(kappa0 / kappaN);
  // ∂βₙ/∂w_i = (w_i − w̄) + κ₀(w̄ − μ₀)/κₙ (the Σ(w − w̄) = 0 terms drop out).
  const grad = w.map((x) => -alphaN / betaN * ((x - mean) + (kappa0 === null ? 0 : kappa0 * (mean - mu0) / kappaN)));
  return {value, grad};
}

const CONJUGATES: Array<[string, () => Prior, number, number|null, number, number]> = [
  ['ConjugatePrior() (μ₀ 0, κ₀ 1, α₀ 1, β₀ 1)', () => new ConjugatePrior(), 0, 1, 1, 1],
  ['ConjugatePrior({mu0: 3, kappa0: 1e-3, alpha0: 0.5, beta0: 1e-6})',
    () => new ConjugatePrior({mu0: 3, kappa0: 1e-3, alpha0: 0.5, beta0: 1e-6}), 3, 1e-3, 0.5, 1e-6],
  ['ConjugateKnownMeanPrior() (μ₀ 0, α₀ 1, β₀ 1)', () => new ConjugateKnownMeanPrior(), 0, null, 1, 1],
  ['ConjugateKnownMeanPrior({mu0: -2, alpha0: 50, beta0: 1e4})',
    () => new ConjugateKnownMeanPrior({mu0: -2, alpha0: 50, beta0: 1e4}), -2, null, 50, 1e4],
];

/** A PriorContext for the rows: addWeight hands out the row's own input tensor (so it is differentiated). */
function rowContext(shape: number[], fanIn: number, rhoP?: tf.Tensor): PriorContext {
  return {
    name: shape.length >= 2 ? 'kernel' : 'bias', shape, fanIn,
    addWeight: () => ({read: () => rhoP}) as unknown as LayerVariable,
  };
}

const CONJUGATE_W: Array<[string, number[]]> = [
  ['w ±1e20 (βₙ 1e40)', [1e20, -1e20, 3, 0]],
  ['w all equal', [0.5, 0.5, 0.5, 0.5]],
  ['w ±1e-30', [1e-30, -1e-30, 0, 2e-30]],
  ['w 1e4 (|w̄ − μ₀| large)', [1e4, 1e4, 1e4, 1.0001e4]],
  ['w ±3e38 (w − w̄ beyond float32)', [3e38, 3e38, -3e38, 0]],
];

PRIOR_ROWS.push(
  ...CONJUGATES.flatMap(([label, make, mu0, kappa0, alpha0, beta0]) => CONJUGATE_W.map(([corner, w]): Row => ({
    name: `${label}.logProbSum: ${corner}`,
    inputs: {w: vec(w)},
    f: (t) => make().logProbSum(t.w),
    ref: (v) => [conjugateRef(v.w, mu0, kappa0, alpha0, beta0).value],
    dref: (v) => ({w: conjugateRef(v.w, mu0, kappa0, alpha0, beta0).grad}),
    // Relative to the largest gradient element (an element at the mean has a gradient near 0).
    gmag: (v) => {
      const g = conjugateRef(v.w, mu0, kappa0, alpha0, beta0).grad;
      const m = Math.max(...g.map(Math.abs));
      return {w: g.map(() => m)};
    },
    mag: (v) => [Math.abs(lgammaNumber(alpha0 + v.w.length / 2)) + Math.abs(alpha0 * Math.log(beta0)) +
      Math.abs((alpha0 + v.w.length / 2) * Math.log(beta0 + v.w.reduce((a, x) => a + (x - mu0) ** 2, 0))) + 4],
    rtol: 1e-6, why: 'a double constant minus αₙ·log βₙ, log βₙ = 2 log a + log(≤ 1 + n) in ≤ 8 roundings, relative to the largest term (mag)',
    gtol: 2e-5,
  }))),
  ...CONJUGATES.map(([label, make, mu0, kappa0, alpha0, beta0]): Row => ({
    name: `${label}.divergence(μ, softplusScale(ρ), eps): Monte Carlo, ρ ±1e3, |μ| 1e4, eps 0`,
    inputs: {loc: vec(PRIOR_LOC), rho: vec(RHO), eps: vec([0, 1, -2, 0.5])},
    f: (t) => make().divergence(t.loc, softplusScale(t.rho), t.eps),
    ref: (v) => {
      const s = v.rho.map((r) => f32(softplus(r) + FLOOR));
      const w = v.loc.map((m, i) => f32(m + f32(s[i] * v.eps[i])));
      return [v.eps.reduce((a, e, i) => a - 0.5 * e * e - Math.log(s[i]) - HALF_LOG_2PI, 0) - conjugateRef(w, mu0, kappa0, alpha0, beta0).value];
    },
    dref: (v) => {
      const s = v.rho.map((r) => f32(softplus(r) + FLOOR));
      const w = v.loc.map((m, i) => f32(m + f32(s[i] * v.eps[i])));
      const g = conjugateRef(w, mu0, kappa0, alpha0, beta0).grad;
      return {
        loc: g.map((gi) => -gi),
        rho: g.map((gi, i) => (-1 / s[i] - v.eps[i] * gi) * sigmoid(v.rho[i])),
        eps: g.map((gi, i) => -v.eps[i] - s[i] * gi),
      };
    },
    mag: (v) => [v.rho.reduce((a, r) => a + Math.abs(Math.log(f32(softplus(r) + FLOOR))) + 3, 0) +
      Math.abs(conjugateRef(v.loc, mu0, kappa0, alpha0, beta0).value) + 10],
    rtol: 2e-6, why: 'log q (four terms) minus the joint log-density, each ≤ 8 roundings, relative to Σ|terms| (mag)',
    gtol: 2e-5, gmag: (v) => ({rho: v.rho.map(() => 1e3), loc: v.loc.map(() => 1e-2), eps: v.eps.map(() => 1e3)}),
  })),
  ...([[1, 4], [1, 1e6], [1e4, 1]] as const).map(([scale, fanIn]): Row => ({
    name: `GaussianPrior({scaleByFanIn: true, scale: ${scale}}) bound to a [2, 2] kernel of fan-in ${fanIn}: σ_p = ${scale}/√${fanIn}, ρ ±1e3, |μ| 1e4`,
    inputs: {loc: flat([2, 2], PRIOR_LOC), rho: flat([2, 2], RHO)},
    f: (t) => new GaussianPrior({scaleByFanIn: true, scale}).bind(rowContext([2, 2], fanIn))
        .divergence(t.loc, softplusScale(t.rho), {eps: null, draw: () => tf.zeros([2, 2])}),
    ref: (v) => {
      const sp = scale / Math.sqrt(fanIn);
      return [v.loc.reduce((sum, m, i) => {
        const s = f32(softplus(v.rho[i]) + FLOOR);
        return sum + 0.5 * ((s / sp) ** 2 + (m / sp) ** 2) - 0.5 - Math.log(s / sp);
      }, 0)];
    },
    dref: (v) => {
      const sp = scale / Math.sqrt(fanIn);
      return {
        loc: v.loc.map((m) => m / sp ** 2),
        rho: v.rho.map((r) => {
          const s = f32(softplus(r) + FLOOR);
          return (s / sp ** 2 - 1 / s) * sigmoid(r);
        }),
      };
    },
    gmag: (v) => {
      const sp = scale / Math.sqrt(fanIn);
      return {rho: v.rho.map((r) => (f32(softplus(r) + FLOOR) / sp ** 2 + 1 / f32(softplus(r) + FLOOR)) * sigmoid(r))};
    },
    rtol: 2e-6, why: 'a sum of four positive KLs, each term rounded once or twice (the normalKL rows)',
  })),
  ...([[1, 0], [1e-4, 0], [1e3, 5]] as const).map(([priorScale, priorLoc]): Row => ({
    name: `EmpiricalBayesPrior bound, prior scale ${priorScale} (ρ_p an input), mean ${priorLoc}: ρ ±1e3, |μ| 1e4`,
    inputs: {loc: vec(PRIOR_LOC), rho: vec(RHO), rhoP: flat([], [inverseSoftplusScale(priorScale)])},
    f: (t) => new EmpiricalBayesPrior({initialLoc: priorLoc}).bind(rowContext([4], 3, t.rhoP))
        .divergence(t.loc, softplusScale(t.rho), {eps: null, draw: () => tf.zeros([4])}),
    ref: (v) => {
      const sp = f32(softplus(v.rhoP[0]) + FLOOR);
      return [v.loc.reduce((sum, m, i) => {
        const s = f32(softplus(v.rho[i]) + FLOOR);
        return sum + 0.5 * ((s / sp) ** 2 + ((m - priorLoc) / sp) ** 2) - 0.5 - Math.log(s / sp);
      }, 0)];
    },
    dref: (v) => {
      const sp = f32(softplus(v.rhoP[0]) + FLOOR);
      const ss = v.rho.map((r) => f32(softplus(r) + FLOOR));
      return {
        loc: v.loc.map((m) => (m - priorLoc) / sp ** 2),
        rho: v.rho.map((r, i) => (ss[i] / sp ** 2 - 1 / ss[i]) * sigmoid(r)),
        // ∂/∂s_p Σ KL = Σ [1/s_p − (σ² + (μ − m)²)/s_p³], times sigmoid(ρ_p).
        rhoP: [v.loc.reduce((a, m, i) => a + 1 / sp - (ss[i] ** 2 + (m - priorLoc) ** 2) / sp ** 3, 0) * sigmoid(v.rhoP[0])],
      };
    },
    mag: (v) => {
      const sp = f32(softplus(v.rhoP[0]) + FLOOR);
      return [v.loc.reduce((sum, m, i) => {
        const s = f32(softplus(v.rho[i]) + FLOOR);
        return sum + 0.5 * ((s / sp) ** 2 + ((m - priorLoc) / sp) ** 2) + 0.5 + Math.abs(Math.log(s / sp));
      }, 0)];
    },
    gmag: (v) => {
      const sp = f32(softplus(v.rhoP[0]) + FLOOR);
      const ss = v.rho.map((r) => f32(softplus(r) + FLOOR));
      return {
        rho: v.rho.map((r, i) => (ss[i] / sp ** 2 + 1 / ss[i]) * sigmoid(r)),
        rhoP: [v.loc.reduce((a, m, i) => a + 1 / sp + (ss[i] ** 2 + (m - priorLoc) ** 2) / sp ** 3, 0) * sigmoid(v.rhoP[0])],
      };
    },
    rtol: 2e-6, why: 'the normalKL closed form with a tensor prior scale, summed; relative to the largest term (mag)',
  })),
);

// --- dense estimators ---------------------------------------------------------

/** x [2, 3] with an all-zero row (the √v-at-0 corner) and |x| 1e4; μ with |μ| 1e4; σ from ρ ±1e3. */
const DX = [0, 0, 0, 1e4, -1e4, 0.5];
const DMU = [1e4, 0, -1e4, 1, 0.25, -3];
const DRHO = [-1e3, 1e3, 0, -1e3, 2, 1e3];
const DBIAS = [1e4, -2];
const DBRHO = [-1e3, 1e3];
const DEPS = [0.5, -1, 0, 2, 1, -0.5];
const DEPS_B = [1, -1];
const DZETA = [1, -2, 0.5, 3];
const DSIGNS_IN = [1, -1, 1, -1, -1, 1];
const DSIGNS_OUT = [1, -1, -1, 1];

const sigmaOf = (r: number): number => f32(softplus(r) + FLOOR);
/** y[n][j] = Σ_i x[n][i]·W[i][j] + b[j] with x [2, 3], W [3, 2] flat, and Σ|terms| for the tolerance. */
function matmulRef(x: number[], w: number[], b: number[]): {y: number[]; mag: number[]} {
  const y: number[] = [];
  const mag: number[] = [];
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 2; j++) {
      let s = b[j];
      let m = Math.abs(b[j]);
      for (let i = 0; i < 3; i++) {
        s += x[3 * n + i] * w[2 * i + j];
        m += Math.abs(x[3 * n + i] * w[2 * i + j]);
      }
      y.push(s);
      mag.push(m);
    }
  }
  return {y, mag};
}

function posterior(t: Record<string, tf.Tensor>): {kernelLoc: tf.Tensor; kernelScale: tf.Tensor; biasLoc: tf.Tensor; biasScale: tf.Tensor} {
  return {kernelLoc: t.mu, kernelScale: softplusScale(t.rho), biasLoc: t.b, biasScale: softplusScale(t.brho)};
}

const DENSE_INPUTS = {
  x: flat([2, 3], DX), mu: flat([3, 2], DMU), rho: flat([3, 2], DRHO), b: vec(DBIAS), brho: vec(DBRHO),
};
const DENSE_TOL = 'float32 dot-product bound: ≤ (n + 2)·2⁻²⁴ of Σ|terms| (mag), n = 3 inputs plus the bias';

const DENSE_ROWS: Row[] = [
  {
    name: 'denseReparameterization: zero input row, |x| 1e4, |μ| 1e4, σ from ρ ±1e3, Bayesian bias',
    inputs: {...DENSE_INPUTS, eps: flat([3, 2], DEPS), epsB: vec(DEPS_B)},
    f: (t) => denseReparameterization(t.x, posterior(t), {kernel: t.eps, bias: t.epsB}),
    ref: (v) => {
      const w = v.mu.map((m, k) => f32(m + f32(sigmaOf(v.rho[k]) * v.eps[k])));
      const b = v.b.map((m, j) => f32(m + f32(sigmaOf(v.brho[j]) * v.epsB[j])));
      return matmulRef(v.x, w, b).y;
    },
    mag: (v) => {
      const w = v.mu.map((m, k) => Math.abs(m) + sigmaOf(v.rho[k]) * Math.abs(v.eps[k]));
      const b = v.b.map((m, j) => Math.abs(m) + sigmaOf(v.brho[j]) * Math.abs(v.epsB[j]));
      return matmulRef(v.x.map(Math.abs), w, b).mag;
    },
    dref: (v) => {
      const w = v.mu.map((m, k) => f32(m + f32(sigmaOf(v.rho[k]) * v.eps[k])));
      const colSum = [0, 1, 2].map((i) => v.x[i] + v.x[3 + i]);  // Σ_n x[n][i]
      return {
        x: [0, 1].flatMap(() => [0, 1, 2].map((i) => w[2 * i] + w[2 * i + 1])),
        mu: [0, 1, 2].flatMap((i) => [colSum[i], colSum[i]]),
        rho: v.rho.map((r, k) => colSum[Math.floor(k / 2)] * v.eps[k] * sigmoid(r)),
        eps: v.rho.map((r, k) => colSum[Math.floor(k / 2)] * sigmaOf(r)),
        b: [2, 2],
        brho: v.brho.map((r, j) => 2 * v.epsB[j] * sigmoid(r)),
        epsB: v.brho.map((r) => 2 * sigmaOf(r)),
      };
    },
    gmag: (v) => ({x: [0, 1].flatMap(() => [0, 1, 2].map((i) => Math.abs(v.mu[2 * i]) + Math.abs(v.mu[2 * i + 1]) + 2e3))}),
    rtol: 1e-6, why: DENSE_TOL,
  },
  {
    name: 'denseLocalReparameterization: zero input row (variance 0 but the bias\'s), |x| 1e4, σ from ρ ±1e3',
    inputs: {...DENSE_INPUTS, zeta: flat([2, 2], DZETA)},
    f: (t) => denseLocalReparameterization(t.x, posterior(t), {output: t.zeta}),
    ref: (v) => {
      const m = matmulRef(v.x, v.mu, v.b).y;
      return m.map((mj, k) => {
        const n = Math.floor(k / 2);
        const j = k % 2;
        let variance = sigmaOf(v.brho[j]) ** 2;
        for (let i = 0; i < 3; i++) variance += (v.x[3 * n + i] * sigmaOf(v.rho[2 * i + j])) ** 2;
        return mj + Math.sqrt(variance) * v.zeta[k];
      });
    },
    mag: (v) => {
      const m = matmulRef(v.x.map(Math.abs), v.mu.map(Math.abs), v.b.map(Math.abs)).mag;
      return m.map((mj, k) => {
        const n = Math.floor(k / 2);
        const j = k % 2;
        let variance = sigmaOf(v.brho[j]) ** 2;
        for (let i = 0; i < 3; i++) variance += (v.x[3 * n + i] * sigmaOf(v.rho[2 * i + j])) ** 2;
        return mj + Math.sqrt(variance) * Math.abs(v.zeta[k]);
      });
    },
    dref: (v) => {
      const std = [0, 1, 2, 3].map((k) => {
        const n = Math.floor(k / 2);
        const j = k % 2;
        let variance = sigmaOf(v.brho[j]) ** 2;
        for (let i = 0; i < 3; i++) variance += (v.x[3 * n + i] * sigmaOf(v.rho[2 * i + j])) ** 2;
        return Math.sqrt(variance);
      });
      const dx: number[] = [];
      for (let n = 0; n < 2; n++) {
        for (let i = 0; i < 3; i++) {
          let s = 0;
          for (let j = 0; j < 2; j++) {
            const sig = sigmaOf(v.rho[2 * i + j]);
            s += v.mu[2 * i + j] + v.zeta[2 * n + j] * v.x[3 * n + i] * sig * sig / std[2 * n + j];
          }
          dx.push(s);
        }
      }
      const drho = v.rho.map((r, k) => {
        const i = Math.floor(k / 2);
        const j = k % 2;
        const sig = sigmaOf(r);
        let s = 0;
        for (let n = 0; n < 2; n++) s += v.zeta[2 * n + j] * v.x[3 * n + i] ** 2 * sig / std[2 * n + j];
        return s * sigmoid(r);
      });
      const dbrho = v.brho.map((r, j) => {
        const sig = sigmaOf(r);
        let s = 0;
        for (let n = 0; n < 2; n++) s += v.zeta[2 * n + j] * sig / std[2 * n + j];
        return s * sigmoid(r);
      });
      return {
        x: dx,
        mu: [0, 1, 2].flatMap((i) => [v.x[i] + v.x[3 + i], v.x[i] + v.x[3 + i]]),
        rho: drho,
        b: [2, 2],
        brho: dbrho,
        zeta: std,
      };
    },
    gmag: (v) => ({x: [0, 1].flatMap(() => [0, 1, 2].map((i) => Math.abs(v.mu[2 * i]) + Math.abs(v.mu[2 * i + 1]) + 1e4))}),
    rtol: 1e-6, why: DENSE_TOL + '; √ of a rounded variance adds ½ ulp',
  },
  {
    name: 'denseFlipout: zero input row, |x| 1e4, |μ| 1e4, σ from ρ ±1e3, random signs',
    inputs: {...DENSE_INPUTS, eps: flat([3, 2], DEPS), epsB: vec(DEPS_B), s: flat([2, 3], DSIGNS_IN), r: flat([2, 2], DSIGNS_OUT)},
    f: (t) => denseFlipout(t.x, posterior(t), {kernel: t.eps, bias: t.epsB, inputSigns: t.s, outputSigns: t.r}),
    ref: (v) => {
      const mean = matmulRef(v.x, v.mu, v.b).y;
      const delta = v.rho.map((r, k) => f32(sigmaOf(r) * v.eps[k]));
      const db = v.brho.map((r, j) => f32(sigmaOf(r) * v.epsB[j]));
      const pert = matmulRef(v.x.map((x, k) => x * v.s[k]), delta, db).y;
      return mean.map((m, k) => m + pert[k] * v.r[k]);
    },
    mag: (v) => {
      const mean = matmulRef(v.x.map(Math.abs), v.mu.map(Math.abs), v.b.map(Math.abs)).mag;
      const delta = v.rho.map((r, k) => sigmaOf(r) * Math.abs(v.eps[k]));
      const db = v.brho.map((r, j) => sigmaOf(r) * Math.abs(v.epsB[j]));
      const pert = matmulRef(v.x.map(Math.abs), delta, db).mag;
      return mean.map((m, k) => m + pert[k]);
    },
    dref: (v) => {
      const delta = v.rho.map((r, k) => f32(sigmaOf(r) * v.eps[k]));
      const dx: number[] = [];
      for (let n = 0; n < 2; n++) {
        for (let i = 0; i < 3; i++) {
          let s = 0;
          for (let j = 0; j < 2; j++) s += v.mu[2 * i + j] + v.s[3 * n + i] * delta[2 * i + j] * v.r[2 * n + j];
          dx.push(s);
        }
      }
      const coef = (i: number, j: number): number => [0, 1].reduce((a, n) => a + v.x[3 * n + i] * v.s[3 * n + i] * v.r[2 * n + j], 0);
      return {
        x: dx,
        mu: [0, 1, 2].flatMap((i) => [v.x[i] + v.x[3 + i], v.x[i] + v.x[3 + i]]),
        rho: v.rho.map((r, k) => coef(Math.floor(k / 2), k % 2) * v.eps[k] * sigmoid(r)),
        eps: v.rho.map((r, k) => coef(Math.floor(k / 2), k % 2) * sigmaOf(r)),
        b: [2, 2],
        brho: v.brho.map((r, j) => (v.r[j] + v.r[2 + j]) * v.epsB[j] * sigmoid(r)),
      };
    },
    gmag: (v) => ({x: [0, 1].flatMap(() => [0, 1, 2].map((i) => Math.abs(v.mu[2 * i]) + Math.abs(v.mu[2 * i + 1]) + 2e3))}),
    rtol: 1e-6, why: DENSE_TOL,
  },
  {
    name: 'denseLocalReparameterization: kernel scales 1e20 (σ² beyond float32) on a zero input row and a 1e-15 row',
    inputs: {x: flat([2, 3], [0, 0, 0, 1e-15, 0, 2e-15]), sigma: flat([3, 2], [1e20, 1, 1e20, 1e20, 3, 1e20]), zeta: flat([2, 2], DZETA)},
    f: (t) => denseLocalReparameterization(t.x, {
      kernelLoc: tf.zeros([3, 2]), kernelScale: t.sigma, biasLoc: null, biasScale: null,
    }, {output: t.zeta}),
    ref: (v) => [0, 1, 2, 3].map((k) => {
      const n = Math.floor(k / 2);
      const j = k % 2;
      let variance = 0;
      for (let i = 0; i < 3; i++) variance += (v.x[3 * n + i] * v.sigma[2 * i + j]) ** 2;
      return Math.sqrt(variance) * v.zeta[k];
    }),
    dref: (v) => {
      const std = [0, 1, 2, 3].map((k) => {
        let variance = 0;
        for (let i = 0; i < 3; i++) variance += (v.x[3 * Math.floor(k / 2) + i] * v.sigma[2 * i + (k % 2)]) ** 2;
        return Math.sqrt(variance);
      });
      // At a zero row the standard deviation |x|·σ has derivative 0 in σ, and the implementation takes 0 in x.
      const term = (n: number, j: number): number => (std[2 * n + j] > 0 ? v.zeta[2 * n + j] / std[2 * n + j] : 0);
      return {
        x: [0, 1].flatMap((n) => [0, 1, 2].map((i) => [0, 1].reduce((a, j) => a + term(n, j) * v.x[3 * n + i] * v.sigma[2 * i + j] ** 2, 0))),
        sigma: [0, 1, 2].flatMap((i) => [0, 1].map((j) => [0, 1].reduce((a, n) => a + term(n, j) * v.x[3 * n + i] ** 2 * v.sigma[2 * i + j], 0))),
        zeta: std,
      };
    },
    rtol: 1e-6, why: 'a three-term sum of squares, a square root and a product',
  },
];

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------

function compare(label: string, got: ArrayLike<number>, want: number[], rtol: number, mag?: number[], atol = 0): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (Number.isNaN(w)) throw new Error(`${label}[${i}]: the reference is NaN (a defect of the test)`);
    const w32 = f32(w);
    if (!Number.isFinite(w32)) {
      if (g !== w32) throw new Error(`${label}[${i}]: got ${g}, expected ${w32} (true value ${w} is beyond float32)`);
      continue;
    }
    const scale = Math.max(Math.abs(w), mag === undefined ? 0 : Math.abs(mag[i]));
    // Below float32's smallest subnormal the value is 0 either way.
    const tol = rtol * scale + atol + 1.5e-45;
    if (!Number.isFinite(g) || !(Math.abs(g - w) <= tol)) {
      throw new Error(`${label}[${i}]: got ${g}, expected ${w} (tolerance ${tol})`);
    }
  }
}

function runRow(row: Row): void {
  const names = Object.keys(row.inputs);
  const values: Values = {};
  for (const n of names) values[n] = row.inputs[n].values.map(f32);
  tf.tidy(() => {
    const tensors = names.map((n) => tf.tensor(values[n], row.inputs[n].shape));
    const call = (...ts: tf.Tensor[]): tf.Tensor => row.f(Object.fromEntries(names.map((n, i) => [n, ts[i]])));
    const out = call(...tensors);
    compare('value', out.dataSync(), row.ref(values), row.rtol, row.mag?.(values), row.atol);
    const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(call(...ts)))(tensors);
    const dref = row.dref?.(values) ?? {};
    const gmag = row.gmag?.(values) ?? {};
    names.forEach((n, i) => {
      const g = grads[i].dataSync();
      expect(grads[i].shape).toEqual(row.inputs[n].shape);
      const want = dref[n];
      if (want !== undefined) {
        compare(`∂/∂${n}`, g, want, row.gtol ?? row.rtol, gmag[n]);
      } else {
        g.forEach((x, k) => {
          if (!Number.isFinite(x)) throw new Error(`∂/∂${n}[${k}] is ${x}`);
        });
      }
    });
  });
}

function register(rows: Row[]): void {
  for (const row of rows) {
    if (row.fault !== undefined) {
      test.failing(`${row.name} — KNOWN FAULT (file outside this work): ${row.fault}`, () => runRow(row));
    } else {
      test(`${row.name} — rtol ${row.rtol}: ${row.why}`, () => runRow(row));
    }
  }
}

describe.each(NODE_BACKENDS)('numerics at the extreme corners on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe('likelihood losses', () => register(LOSS_ROWS));
  describe('KL layer math and reparameterization', () => register(KL_ROWS));
  describe('normal.ts', () => register(NORMAL_ROWS));
  describe('priors', () => register(PRIOR_ROWS));
  describe('dense estimators', () => register(DENSE_ROWS));

  test('ScaleMixturePrior has no closed form (analyticKL is null, divergence needs eps)', () => {
    tf.tidy(() => {
      const prior = new ScaleMixturePrior();
      expect(prior.analyticKL(tf.zeros([2]), tf.ones([2]))).toBeNull();
      expect(() => prior.divergence(tf.zeros([2]), tf.ones([2]), null)).toThrow(/needs posterior noise eps/);
    });
  });

  // The layer end to end: forward pass, divergence and one optimizer step. An SGD step of 1e-20 moves no
  // weight measurably, so a weight that is not finite afterwards means a NaN or infinite gradient.
  describe.each(['reparameterization', 'localReparameterization', 'flipout'] as const)('BayesianDense, %s estimator', (estimator) => {
    test.each([['gaussian', true], ['scaleMixture', true], ['gaussian', false], ['scaleMixture', false]] as const)(
        '%s prior, bayesianBias %p: ρ ±1e3, |μ| 1e4, an all-zero input row and |x| 1e4 give a finite loss and gradients',
        async (prior, bayesianBias) => {
          // Without a Bayesian bias the all-zero row's pre-activation variance is exactly 0 (local reparameterization).
          const model = tfl.sequential({
            layers: [bayesianDense({units: 2, inputShape: [3], estimator, prior, bayesianBias, numExamples: 10, seed: 3})],
          });
          const layer = model.layers[0];
          const values: Record<string, tf.Tensor> = {
            kernel_loc: tf.tensor2d(DMU, [3, 2]), kernel_untransformed_scale: tf.tensor2d(DRHO, [3, 2]), bias_loc: tf.tensor1d(DBIAS),
          };
          if (bayesianBias) values.bias_untransformed_scale = tf.tensor1d(DBRHO);
          const trainable = layer.trainableWeights;
          expect(trainable.map((w) => w.originalName.split('/').pop()).sort()).toEqual(Object.keys(values).sort());
          for (const w of trainable) w.write(values[w.originalName.split('/').pop() as string]);
          model.compile({optimizer: tf.train.sgd(1e-20), loss: gaussianNLL()});
          const x = tf.tensor2d(DX, [2, 3]);
          const y = tf.zeros([2, 2]);
          const loss = await model.trainOnBatch(x, y) as number;
          expect(Number.isFinite(loss)).toBe(true);
          for (const w of trainable) {
            const v = w.read().dataSync();
            v.forEach((e, i) => {
              if (!Number.isFinite(e)) throw new Error(`${w.name}[${i}] is ${e} after one step: a gradient was not finite`);
            });
          }
          tf.dispose([x, y, ...Object.values(values)]);
          model.dispose();
        });
  });

  // The same corners through a convolution: a 1×3 kernel over a [1, 3, 1] image, the first image all zero.
  // Training a convolution on wasm needs the library's Conv2DBackpropFilter kernel (the backend has none),
  // installed with the fast kernels, which this file (importing modules, not the package) leaves off.
  describe.each(['reparameterization', 'localReparameterization', 'flipout'] as const)('BayesianConv2D, %s estimator', (estimator) => {
    let installed = false;
    beforeAll(() => {
      if (backend === 'wasm' && tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined) {
        expect(enableFastWasmKernels()).toBe(true);
        installed = true;
      }
    });
    afterAll(() => {
      if (installed) disableFastWasmKernels();
    });
    test.each([['gaussian', true], ['scaleMixture', true], ['gaussian', false], ['scaleMixture', false]] as const)(
        '%s prior, bayesianBias %p: ρ ±1e3, |μ| 1e4, an all-zero image and |x| 1e4 give a finite loss and gradients',
        async (prior, bayesianBias) => {
          const model = tfl.sequential({
            layers: [bayesianConv2d({filters: 2, kernelSize: [1, 3], inputShape: [1, 3, 1], estimator, prior, bayesianBias,
              numExamples: 10, seed: 3})],
          });
          const layer = model.layers[0];
          const values: Record<string, tf.Tensor> = {
            kernel_loc: tf.tensor4d(DMU, [1, 3, 1, 2]), kernel_untransformed_scale: tf.tensor4d(DRHO, [1, 3, 1, 2]),
            bias_loc: tf.tensor1d(DBIAS),
          };
          if (bayesianBias) values.bias_untransformed_scale = tf.tensor1d(DBRHO);
          const trainable = layer.trainableWeights;
          expect(trainable.map((w) => w.originalName.split('/').pop()).sort()).toEqual(Object.keys(values).sort());
          for (const w of trainable) w.write(values[w.originalName.split('/').pop() as string]);
          model.compile({optimizer: tf.train.sgd(1e-20), loss: gaussianNLL()});
          const x = tf.tensor4d(DX, [2, 1, 3, 1]);
          const y = tf.zeros([2, 1, 1, 2]);
          const loss = await model.trainOnBatch(x, y) as number;
          expect(Number.isFinite(loss)).toBe(true);
          for (const w of trainable) {
            w.read().dataSync().forEach((e, i) => {
              if (!Number.isFinite(e)) throw new Error(`${w.name}[${i}] is ${e} after one step: a gradient was not finite`);
            });
          }
          tf.dispose([x, y, ...Object.values(values)]);
          model.dispose();
        });
  });

  test('no tensor leaks across every row', () => {
    const before = tf.memory().numTensors;
    for (const row of [...LOSS_ROWS, ...NORMAL_ROWS, ...PRIOR_ROWS, ...DENSE_ROWS]) runRow(row);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('inverseSoftplusScale (double precision)', () => {
  test.each([1.0000001e-5, 2e-5, 0.05, 1, 30, 1e10, 1e300])('softplusScale(inverseSoftplusScale(%p)) round-trips, rtol 1e-12', (s) => {
    const rho = inverseSoftplusScale(s);
    expect(Number.isFinite(rho)).toBe(true);
    // Relative to s: softplus(ρ) is computed in double, and s − floor cancels by at most floor/s.
    expect(Math.abs(softplus(rho) + SCALE_FLOOR - s)).toBeLessThanOrEqual(1e-12 * s);
  });

  test('scales at or below the floor are rejected with the value', () => {
    expect(() => inverseSoftplusScale(SCALE_FLOOR)).toThrow(/scale to be a finite number > 0.00001.*scale=0.00001/);
    expect(() => inverseSoftplusScale(Infinity)).toThrow(/scale=Infinity/);
  });
});
