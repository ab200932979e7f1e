/**
 * The distribution toolkit (`src/distributions`): `Normal`, `Bernoulli`,
 * `Categorical`, `MixtureOfGaussians` and `kl`.
 *
 * Values of every method against float64 references written here in plain
 * JS (log space where the naive double formula would overflow), at ordinary
 * and extreme values: scales at the softplus floor and 1e30, |loc| 1e4,
 * log-variances ±1000, logits ±3e38, probabilities 0 and 1. Every input is
 * rounded with Math.fround before both the tensor and the reference see it.
 * Where the float64 reference is beyond float32 (Math.fround gives ±∞) the
 * row asserts exactly that infinity, never NaN. Gradients of Σ output with
 * respect to every tensor input are compared with float64 central
 * differences of the reference (or an analytic derivative where the float64
 * reference itself would overflow at θ ± h).
 *
 * Statistical assertions (docs/testing.md), each with false-failure
 * probability ≤ P_ASSERTION = 1e-8 and seeded (tfjs draws in JavaScript, so
 * both backends see the same draws): per backend 2 (normal moments),
 * 1 (Bernoulli frequencies), 1 (categorical frequencies), 1 (mixture mean),
 * 2 (kl's Monte Carlo fallback and its gradient against the closed form),
 * 1 (the fallback for a mixture against numerical integration) — 8, so 16 on
 * the two backends — plus 3 backend-free float64 Monte Carlo checks of the
 * closed forms: 19 in this file.
 */
import * as tf from '@tensorflow/tfjs-core';

import {NODE_BACKENDS, useBackend} from './helpers/backends';
import * as tfv from '../src';
import {Bernoulli, Categorical, Distribution, kl, MixtureOfGaussians, Normal, registerKL} from '../src/distributions';
import {normalLogProbOfNoiseFromLogVariance} from '../src/distributions/log_variance';
import {normalLogProbOfNoise} from '../src/distributions/normal';
import {SERIALIZATION_PACKAGE} from '../src/util/serialization';
import {mulberry32, normal as normalDraws, normalTwoSidedTail, P_ASSERTION, sampleVarianceRatioBounds} from './helpers/random';

// ---------------------------------------------------------------------------
// float64 references
// ---------------------------------------------------------------------------

const f32 = Math.fround;
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function softplus(l: number): number {
  return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
}
function sigmoid(l: number): number {
  return l >= 0 ? 1 / (1 + Math.exp(-l)) : Math.exp(l) / (1 + Math.exp(l));
}
function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(v.reduce((s, a) => s + Math.exp(a - m), 0));
}
/** `c·t` with 0·t = 0 (the entropy and KL convention). */
function xt(c: number, t: number): number {
  return c === 0 ? 0 : c * t;
}
function normalLogProb64(x: number, m: number, s: number): number {
  const z = (x - m) / s;
  return -0.5 * z * z - Math.log(s) - HALF_LOG_2PI;
}
/** `½·d²·e^{−v}` in log space. */
function halfQuad(d: number, v: number): number {
  return d === 0 ? 0 : Math.exp(2 * Math.log(Math.abs(d)) - v - Math.LN2);
}
function normalLogVar64(x: number, m: number, v: number): number {
  return -halfQuad(x - m, v) - 0.5 * v - HALF_LOG_2PI;
}
function normalKL64(mq: number, sq: number, mp: number, sp: number): number {
  const r = sq / sp;
  const d = (mq - mp) / sp;
  return 0.5 * r * r + 0.5 * d * d - 0.5 - (Math.log(sq) - Math.log(sp));
}
/** log P(x = 1), log P(x = 0) from logits. */
function bernLogs(l: number): [number, number] {
  return [-softplus(-l), -softplus(l)];
}
function bernKL64(lq: number, lp: number): number {
  const [q1, q0] = bernLogs(lq);
  const [p1, p0] = bernLogs(lp);
  return xt(sigmoid(lq), q1 - p1) + xt(sigmoid(-lq), q0 - p0);
}
function bernKLProbs64(q: number, p: number): number {
  const term = (a: number, b: number): number => a === 0 ? 0 : a * (Math.log(a) - Math.log(b));
  return term(q, p) + term(1 - q, 1 - p);
}
/** `(l − max) − log Σ e^{l − max}`: l − logsumexp(l) would lose log 2 against 3e38 even in float64. */
function logSoftmax64(l: number[]): number[] {
  const m = Math.max(...l);
  const shifted = l.map((v) => v - m);
  const z = Math.log(shifted.reduce((s, a) => s + Math.exp(a), 0));
  return shifted.map((v) => v - z);
}
function catKL64(lq: number[], lp: number[]): number {
  const a = logSoftmax64(lq);
  const b = logSoftmax64(lp);
  return a.reduce((s, v, c) => s + xt(Math.exp(v), v - b[c]), 0);
}
function chunk(v: number[], n: number): number[][] {
  return Array.from({length: v.length / n}, (_, i) => v.slice(i * n, (i + 1) * n));
}

// ---------------------------------------------------------------------------
// Rows: a function of named tensor inputs, its float64 reference and tolerances
// ---------------------------------------------------------------------------

type Values = Record<string, number[]>;

interface Row {
  name: string;
  inputs: Record<string, {values: number[]; shape: number[]}>;
  f: (t: Record<string, tf.Tensor>) => tf.Tensor;
  ref: (v: Values) => number[];
  /** Analytic ∂(Σ output)/∂input where the float64 reference would overflow at θ ± h; otherwise central differences. */
  dref?: (v: Values) => Partial<Record<string, number[]>>;
  /** Why the row checks values only (its gradient is not defined in float32). */
  noGrad?: string;
  /** Inputs whose gradient is only checked for being free of NaN (e.g. non-differentiable corners). */
  finiteOnly?: string[];
  rtol: number;
  atol?: number;
  gtol?: number;
  gatol?: number;
  /** Per-input magnitudes the gradient tolerance is relative to (the size of the terms of a cancelling sum). */
  gmag?: (v: Values) => Partial<Record<string, number[]>>;
  why: string;
}

const vec = (values: number[]): {values: number[]; shape: number[]} => ({values, shape: [values.length]});
const mat = (rows: number[][]): {values: number[]; shape: number[]} => ({values: rows.flat(), shape: [rows.length, rows[0].length]});

function compare(what: string, got: ArrayLike<number>, want: number[], rtol: number, atol = 0): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = f32(want[i]);
    if (Number.isNaN(g)) throw new Error(`${what}[${i}] is NaN (reference ${want[i]})`);
    if (!Number.isFinite(w)) {
      if (g !== w) throw new Error(`${what}[${i}]: ${g}, expected ${w} (reference ${want[i]} is beyond float32)`);
      continue;
    }
    // Below float32's smallest normal number (2⁻¹²⁶) a value may flush to 0 or be subnormal: that much absolute slack.
    const tol = atol + rtol * Math.abs(want[i]) + FLOAT32_MIN_NORMAL;
    if (!(Math.abs(g - want[i]) <= tol)) throw new Error(`${what}[${i}]: ${g} vs ${want[i]} (tolerance ${tol})`);
  }
}

/** ∂(Σ ref)/∂v[name][k] by float64 central differences, each output differenced on its own (no cancellation across outputs). */
function centralDifference(ref: (v: Values) => number[], v: Values, name: string, k: number): number {
  const h = 1e-6 * Math.max(Math.abs(v[name][k]), 1e-3);
  const at = (delta: number): number[] => ref({...v, [name]: v[name].map((x, j) => (j === k ? x + delta : x))});
  const plus = at(h);
  const minus = at(-h);
  return plus.reduce((s, p, j) => s + (p === minus[j] ? 0 : (p - minus[j]) / (2 * h)), 0);
}

function runRow(row: Row): void {
  const names = Object.keys(row.inputs);
  const values: Values = {};
  for (const n of names) values[n] = row.inputs[n].values.map(f32);
  tf.tidy(() => {
    const tensors = names.map((n) => tf.tensor(values[n], row.inputs[n].shape));
    const call = (...ts: tf.Tensor[]): tf.Tensor => row.f(Object.fromEntries(names.map((n, i) => [n, ts[i]])));
    compare('value', call(...tensors).dataSync(), row.ref(values), row.rtol, row.atol);
    if (row.noGrad !== undefined) return;
    const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(call(...ts)))(tensors);
    const dref = row.dref?.(values) ?? {};
    names.forEach((n, i) => {
      const g = grads[i].dataSync();
      expect(grads[i].shape).toEqual(row.inputs[n].shape);
      if (row.finiteOnly?.includes(n)) {
        g.forEach((x, k) => {
          if (Number.isNaN(x)) throw new Error(`∂/∂${n}[${k}] is NaN`);
        });
        return;
      }
      const want = dref[n] ?? values[n].map((_, k) => centralDifference(row.ref, values, n, k));
      const mag = row.gmag?.(values)[n];
      if (mag === undefined) {
        compare(`∂/∂${n}`, g, want, row.gtol ?? 1e-4, row.gatol ?? 0);
      } else {
        want.forEach((w, k) => compare(`∂/∂${n}[${k}]`, [g[k]], [w], 0, (row.gtol ?? 1e-4) * (Math.abs(w) + mag[k]) + (row.gatol ?? 0)));
      }
    });
  });
}

// --- Normal -----------------------------------------------------------------

const N_ORD = {x: [0.1, 0.4, -2, 5], loc: [0.5, -1.2, 3, 5], scale: [1, 0.3, 2.5, 0.01]};
// Scales at the softplus floor and 1e30, |loc| 1e4: x = loc, x − loc one float32 step at 1e4, 2e19, 1e-4.
const N_EXT = {x: [1e4, -1e4, 10000.0009765625, 2e19, 1e-4], loc: [1e4, -1e4, 1e4, 0, 0], scale: [1e-5, 1e30, 1e-5, 1e30, 1e-5]};
const V_EXT = {x: [0, 3, 1e4, -1e4, 1.001, 0.5], loc: [0, 3, 1e4, -1e4, 1, 0.5], logVar: [-1000, 1000, -180, 180, 180, 1e-4]};

function normalRows(): Row[] {
  const rows: Row[] = [];
  for (const [label, c] of [['ordinary', N_ORD], ['scale 1e-5 and 1e30, |loc| 1e4', N_EXT]] as const) {
    rows.push({
      name: `Normal({loc, scale}).logProb, ${label}`,
      inputs: {x: vec(c.x), loc: vec(c.loc), scale: vec(c.scale)},
      f: (t) => new Normal({loc: t.loc, scale: t.scale}).logProb(t.x),
      ref: (v) => v.x.map((x, i) => normalLogProb64(x, v.loc[i], v.scale[i])),
      rtol: 2e-6, why: 'a residual, a division, a half-square and two adds: a few 2⁻²⁴ relative to the largest term',
      gtol: 1e-4,
    });
    rows.push({
      name: `Normal({loc, scale}).entropy, ${label}`,
      inputs: {scale: vec(c.scale)},
      f: (t) => new Normal({loc: c.loc, scale: t.scale}).entropy(),
      ref: (v) => v.scale.map((s) => 0.5 + HALF_LOG_2PI + Math.log(s)),
      rtol: 1e-6, atol: 1e-6, why: 'a log kernel and one add', gatol: 1e-12,
    });
    rows.push({
      name: `Normal({loc, scale}).sampleFromNoise, ${label}`,
      inputs: {eps: vec([0, 1, -2.5, 1e-3, 3].slice(0, c.loc.length)), loc: vec(c.loc), scale: vec(c.scale)},
      f: (t) => new Normal({loc: t.loc, scale: t.scale}).sampleFromNoise(t.eps),
      ref: (v) => v.eps.map((e, i) => v.loc[i] + v.scale[i] * e),
      // Analytic: central differences of loc + scale·eps lose a step of 1e-14 against loc = 1e4.
      dref: (v) => ({eps: v.scale.slice(), loc: v.loc.map(() => 1), scale: v.eps.slice()}),
      rtol: 2e-7, atol: 1e-30, why: 'one multiply and one add',
    });
  }
  rows.push({
    name: 'Normal.fromLogVariance(loc, logVar).logProb: logVar ±1000, ±180 (log-space branch), 1e-4',
    inputs: {x: vec(V_EXT.x), loc: vec(V_EXT.loc), logVar: vec(V_EXT.logVar)},
    f: (t) => Normal.fromLogVariance(t.loc, t.logVar).logProb(t.x),
    ref: (v) => v.x.map((x, i) => normalLogVar64(x, v.loc[i], v.logVar[i])),
    // e^{±1000} overflows float64 at θ ± h: the derivative in log space.
    dref: (v) => {
      const dE = v.x.map((x, i) => {
        const d = x - v.loc[i];
        return d === 0 ? 0 : Math.sign(d) * Math.exp(Math.log(Math.abs(d)) - v.logVar[i]);
      });
      return {x: dE.map((g) => -g), loc: dE, logVar: v.x.map((x, i) => -0.5 + halfQuad(x - v.loc[i], v.logVar[i]))};
    },
    rtol: 2e-6, atol: 1e-6, why: 'x = loc: ½v + ½log 2π exactly; the quadratic is rounded in log space once',
    gtol: 1e-4,
  });
  rows.push({
    name: 'Normal.fromLogVariance(loc, logVar).entropy and sampleFromNoise at logVar ±1000 (eps = 0: the sample is loc)',
    inputs: {loc: vec([0, 3, 1e4, 0.5]), logVar: vec([-1000, 1000, 0, 2])},
    f: (t) => {
      const q = Normal.fromLogVariance(t.loc, t.logVar);
      return tf.concat([q.entropy(), q.sampleFromNoise(tf.tensor1d([0, 0, 1, -1.5]))]);
    },
    ref: (v) => [...v.logVar.map((lv) => 0.5 * lv + 0.5 + HALF_LOG_2PI),
      ...v.loc.map((m, i) => m + [0, 0, 1, -1.5][i] * (i < 2 ? 0 : Math.exp(0.5 * v.logVar[i])))],
    dref: (v) => ({loc: v.loc.map(() => 1), logVar: v.logVar.map((lv, i) => 0.5 + [0, 0, 1, -1.5][i] * (i < 2 ? 0 : 0.5 * Math.exp(0.5 * lv)))}),
    rtol: 1e-6, atol: 1e-6, why: 'one multiply and one add; e^{v/2}·0 is formed in log space at v = 1000',
  });
  rows.push({
    name: 'log-density through the noise: normalLogProbOfNoiseFromLogVariance at logVar ±1000, 180; normalLogProbOfNoise with number scales 1e-40 and 1e30',
    inputs: {eps: vec([0, -2.5, 2e19, 1e-3]), logVar: vec([-1000, 1000, 0.5, 180])},
    f: (t) => tf.concat([normalLogProbOfNoiseFromLogVariance(t.eps, t.logVar), normalLogProbOfNoise(t.eps, 1e-40), normalLogProbOfNoise(t.eps, 1e30)]),
    ref: (v) => [...v.eps.map((e, i) => -0.5 * e * e - 0.5 * v.logVar[i] - HALF_LOG_2PI),
      ...[1e-40, 1e30].flatMap((sc) => v.eps.map((e) => -0.5 * e * e - Math.log(sc) - HALF_LOG_2PI))],
    rtol: 1e-6, atol: 1e-6, why: 'a half-square and two subtractions (the number scale\'s log in double precision)',
    gtol: 1e-6,
    dref: (v) => ({eps: v.eps.map((e) => -3 * e), logVar: v.logVar.map(() => -0.5)}),
  });
  return rows;
}

// --- KL rows -----------------------------------------------------------------

const KLN_ORD = {locQ: [0.3, -1, 2], scaleQ: [0.5, 1.5, 1], locP: [0, 1, 2], scaleP: [1, 0.7, 1]};
// |loc| 1e4 against N(0, 1); equal scales of 1e30; equal floors; a floor against 1e30 (ratio 1e-35).
const KLN_EXT = {locQ: [1e4, 0, -1e4, 0], scaleQ: [1e-5, 1e30, 1e-5, 1e-5], locP: [0, 0, -1e4, 0], scaleP: [1, 1e30, 1e-5, 1e30]};

function klRows(): Row[] {
  const rows: Row[] = [];
  for (const [label, c] of [['ordinary', KLN_ORD], ['scales 1e-5 and 1e30, |loc| 1e4', KLN_EXT]] as const) {
    rows.push({
      name: `kl(Normal, Normal), tensor parameters, ${label}`,
      inputs: {locQ: vec(c.locQ), scaleQ: vec(c.scaleQ), locP: vec(c.locP), scaleP: vec(c.scaleP)},
      f: (t) => kl(new Normal({loc: t.locQ, scale: t.scaleQ}), new Normal({loc: t.locP, scale: t.scaleP})),
      ref: (v) => v.locQ.map((m, i) => normalKL64(m, v.scaleQ[i], v.locP[i], v.scaleP[i])),
      // ∂/∂μq = (μq − μp)/σp², ∂/∂σq = σq/σp² − 1/σq, ∂/∂σp = 1/σp − (σq² + (μq − μp)²)/σp³ (written as ratios: σp³ overflows
      // float64 at 1e30... it does not, but 1/σq and σq/σp² cancel, so the tolerance is relative to each term's size).
      dref: (v) => {
        const d = v.locQ.map((m, i) => (m - v.locP[i]) / v.scaleP[i]);
        const r = v.scaleQ.map((sq, i) => sq / v.scaleP[i]);
        return {
          locQ: d.map((di, i) => di / v.scaleP[i]), locP: d.map((di, i) => -di / v.scaleP[i]),
          scaleQ: r.map((ri, i) => ri / v.scaleP[i] - 1 / v.scaleQ[i]),
          scaleP: r.map((ri, i) => (1 - ri * ri - d[i] * d[i]) / v.scaleP[i]),
        };
      },
      gmag: (v) => ({
        scaleQ: v.scaleQ.map((sq) => 1 / sq), scaleP: v.scaleP.map((sp) => 1 / sp),
        locQ: v.locQ.map(() => 0), locP: v.locP.map(() => 0),
      }),
      rtol: 2e-6, atol: 2e-6, why: 'four terms rounded once each (normalKL)', gtol: 1e-5, gatol: 1e-6,
    });
  }
  rows.push({
    name: 'kl(Normal, Normal) with number p parameters {loc: 0, scale: 1e30} and event rank 1 (a sum)',
    inputs: {locQ: vec([1e4, 0, 3]), scaleQ: vec([1e-5, 1e30, 2])},
    f: (t) => kl(new Normal({loc: t.locQ, scale: t.scaleQ, eventRank: 1}), new Normal({loc: 0, scale: 1e30})),
    ref: (v) => [v.locQ.reduce((s, m, i) => s + normalKL64(m, v.scaleQ[i], 0, 1e30), 0)],
    rtol: 2e-6, why: 'three KLs of a few roundings each, then a sum', gtol: 1e-5,
    dref: (v) => ({locQ: v.locQ.map((m) => m / 1e60), scaleQ: v.scaleQ.map((sq) => sq / 1e60 - 1 / sq)}),
    gmag: (v) => ({locQ: v.locQ.map(() => 0), scaleQ: v.scaleQ.map((sq) => 1 / sq)}),
  });
  rows.push({
    name: 'kl(Normal.fromLogVariance, N(0, 1)): the stable standardNormalKL at logVar ±1000, 1e-4, |mu| 1e4',
    inputs: {mu: vec([0, 0, 0, 1e4, 1]), logVar: vec([-1000, 1000, 1e-4, 0, 2])},
    f: (t) => kl(Normal.fromLogVariance(t.mu, t.logVar), new Normal({loc: 0, scale: 1})),
    ref: (v) => v.mu.map((m, i) => 0.5 * (Math.expm1(v.logVar[i]) - v.logVar[i]) + 0.5 * m * m),
    dref: (v) => ({mu: v.mu.slice(), logVar: v.logVar.map((lv) => 0.5 * Math.expm1(lv))}),
    rtol: 1e-5, why: 'relative to the KL itself: the series below |v| = 0.1 (see standardNormalKL)',
  });
  // Bernoulli: ordinary, ±3e38 in every combination.
  const lq = [-2, 0.5, 3e38, 3e38, -3e38, -3e38, 7];
  const lp = [1, 0.5, -3e38, 3e38, 3e38, -3e38, -30];
  rows.push({
    name: 'kl(Bernoulli, Bernoulli) from logits: ordinary and ±3e38',
    inputs: {lq: vec(lq), lp: vec(lp)},
    f: (t) => kl(new Bernoulli({logits: t.lq}), new Bernoulli({logits: t.lp})),
    ref: (v) => v.lq.map((l, i) => bernKL64(l, v.lp[i])),
    rtol: 2e-6, atol: 1e-7, why: 'softplus and sigmoid kernels, two products and a sum, in log space', gtol: 2e-4, gatol: 1e-6,
  });
  rows.push({
    name: 'kl(Bernoulli, Bernoulli) from probabilities 0, 1 and interior values (p = 0 under q > 0: +∞)',
    inputs: {q: vec([0, 1, 0.3, 0, 1, 0.25, 0.5]), p: vec([0.5, 0.2, 0.3, 0, 1, 0.6, 0])},
    f: (t) => kl(new Bernoulli({probs: t.q}), new Bernoulli({probs: t.p})),
    ref: (v) => v.q.map((q, i) => bernKLProbs64(q, v.p[i])),
    rtol: 2e-6, atol: 1e-7, why: 'log and log1p kernels, two products and a sum',
    // At probabilities 0 and 1 the derivative is one-sided or infinite: only checked for NaN.
    finiteOnly: ['q', 'p'],
  });
  rows.push({
    name: 'kl(Bernoulli, Bernoulli) from probabilities, interior: gradients',
    inputs: {q: vec([0.3, 0.25, 0.9]), p: vec([0.2, 0.6, 0.5])},
    f: (t) => kl(new Bernoulli({probs: t.q}), new Bernoulli({probs: t.p})),
    ref: (v) => v.q.map((q, i) => bernKLProbs64(q, v.p[i])),
    rtol: 2e-6, atol: 1e-7, why: 'as above', gtol: 1e-4,
  });
  const cq = [[0.3, -1.2, 2], [3e38, -3e38, 0], [3e38, 3e38, -3e38], [1, 1, 1]];
  const cp = [[0, 0, 0], [-3e38, 3e38, 0], [3e38, 3e38, -3e38], [2, -1, 0.5]];
  rows.push({
    name: 'kl(Categorical, Categorical) from logits: ordinary and ±3e38 (a mass beyond float32 apart: +∞)',
    inputs: {lq: mat(cq), lp: mat(cp)},
    f: (t) => kl(new Categorical({logits: t.lq}), new Categorical({logits: t.lp})),
    ref: (v) => chunk(v.lq, 3).map((l, i) => catKL64(l, chunk(v.lp, 3)[i])),
    rtol: 2e-6, atol: 1e-7, why: 'two max-shifted log-softmaxes, K products and a sum',
    noGrad: 'the second KL is +∞ in float32 (6e38): its gradient is ∞ − ∞; the finite rows are differentiated below',
  });
  rows.push({
    name: 'kl(Categorical, Categorical) from logits, ordinary and equal ±3e38 rows: gradients',
    inputs: {lq: mat([cq[0], cq[2], cq[3]]), lp: mat([cp[0], cp[2], cp[3]])},
    f: (t) => kl(new Categorical({logits: t.lq}), new Categorical({logits: t.lp})),
    ref: (v) => chunk(v.lq, 3).map((l, i) => catKL64(l, chunk(v.lp, 3)[i])),
    rtol: 2e-6, atol: 1e-7, why: 'as above', gtol: 1e-4, gatol: 1e-7,
  });
  rows.push({
    name: 'kl(Categorical, Categorical) from probabilities with zeros and ones',
    inputs: {q: mat([[0, 1, 0], [0.2, 0.8, 0], [0.5, 0.5, 0]]), p: mat([[0.3, 0.7, 0], [0.1, 0.4, 0.5], [1, 0, 0]])},
    f: (t) => kl(new Categorical({probs: t.q}), new Categorical({probs: t.p})),
    ref: (v) => chunk(v.q, 3).map((q, i) => q.reduce((s, a, c) => s + (a === 0 ? 0 : a * (Math.log(a) - Math.log(chunk(v.p, 3)[i][c]))), 0)),
    rtol: 2e-6, atol: 1e-7, why: 'K logs, products and a sum', finiteOnly: ['q', 'p'],
  });
  rows.push({
    name: 'kl across parameterizations: Bernoulli logits ‖ probabilities, Categorical probabilities ‖ logits, Normal scale ‖ log-variance',
    inputs: {lq: vec([-2, 3e38, 0.5]), pp: vec([0.3, 1, 0]), cq: mat([[0.2, 0.8, 0], [0, 0, 1]]), cl: mat([[1, -1, 0.5], [0, 0, 3e38]]),
      m: vec([0.3, 1e4]), s: vec([0.5, 1e-5]), v: vec([-1.5, 4])},
    f: (t) => tf.concat([
      kl(new Bernoulli({logits: t.lq}), new Bernoulli({probs: t.pp})),
      kl(new Categorical({probs: t.cq}), new Categorical({logits: t.cl})),
      kl(new Normal({loc: t.m, scale: t.s}), Normal.fromLogVariance(0, t.v)),
      kl(new Normal({loc: t.m, scale: t.s}), Normal.fromLogVariance(0, 4)),
    ]),
    ref: (v) => [
      ...v.lq.map((l, i) => bernKLProbs64(sigmoid(l), v.pp[i])),
      ...chunk(v.cq, 3).map((q, i) => {
        const b = logSoftmax64(chunk(v.cl, 3)[i]);
        return q.reduce((acc, a, c) => acc + xt(a, Math.log(a) - b[c]), 0);
      }),
      ...v.m.map((m, i) => normalKL64(m, v.s[i], 0, Math.exp(0.5 * v.v[i]))),
      ...v.m.map((m, i) => normalKL64(m, v.s[i], 0, Math.exp(2))),
    ],
    rtol: 4e-6, atol: 1e-6, why: 'as the rows above; e^{v/2} adds one exp rounding',
    noGrad: 'the parameterizations\' gradients are checked in the rows above; some of these are at probabilities 0 and 1',
  });
  return rows;
}

// --- Bernoulli, Categorical, mixture rows -------------------------------------

const BL = [-2.3, 0, 0.7, 4.1, 3e38, 3e38, -3e38, -3e38];
const BX = [0, 1, 1, 0, 1, 0, 1, 0];
const BP = [0, 0, 1, 1, 0.25, 1e-30, 0.999, 0.5];
const BPX = [0, 1, 0, 1, 1, 0, 1, 0];

const MOG = {logits: [0.2, -0.5], locs: [[0, 1], [2, -1]], scales: [[1, 0.5], [0.3, 2]]};
function mogLogProb64(x: number[], logits: number[], locs: number[][], scales: number[][]): number {
  const lw = logSoftmax64(logits);
  return logSumExp(lw.map((w, k) => w + x.reduce((s, xi, i) => s + normalLogProb64(xi, locs[k][i], scales[k][i]), 0)));
}

function discreteRows(): Row[] {
  return [
    {
      name: 'Bernoulli({logits}).logProb: ordinary and ±3e38, x ∈ {0, 1}',
      inputs: {x: vec(BX), l: vec(BL)},
      f: (t) => new Bernoulli({logits: t.l}).logProb(t.x),
      ref: (v) => v.l.map((l, i) => v.x[i] * l - softplus(l)),
      rtol: 1e-6, atol: 1e-7, why: 'a softplus kernel, a product and a subtraction',
      gtol: 1e-4, gatol: 1e-7,
    },
    {
      name: 'Bernoulli({logits}).entropy and mean: ordinary and ±3e38',
      inputs: {l: vec(BL)},
      f: (t) => {
        const b = new Bernoulli({logits: t.l});
        return tf.concat([b.entropy(), b.mean()]);
      },
      ref: (v) => [...v.l.map((l) => -(xt(sigmoid(l), bernLogs(l)[0]) + xt(sigmoid(-l), bernLogs(l)[1]))), ...v.l.map(sigmoid)],
      rtol: 2e-6, atol: 1e-7, why: 'sigmoid and softplus kernels, two products and a sum', gtol: 1e-4, gatol: 1e-7,
    },
    {
      name: 'Bernoulli({probs}).logProb: probabilities 0 and 1 (mass 0 → −∞), 1e-30, interior',
      inputs: {x: vec(BPX), p: vec(BP)},
      f: (t) => new Bernoulli({probs: t.p}).logProb(t.x),
      ref: (v) => v.p.map((p, i) => xt(v.x[i], Math.log(p)) + xt(1 - v.x[i], Math.log1p(-p))),
      rtol: 1e-6, atol: 1e-7, why: 'a log or log1p kernel', finiteOnly: ['x'],
      // Derivatives x/p − (1 − x)/(1 − p): ±∞ where the mass is 0, finite (e.g. −1 at p = 0, x = 0) elsewhere.
      dref: (v) => ({p: v.p.map((p, i) => (v.x[i] === 0 ? 0 : v.x[i] / p) - (v.x[i] === 1 ? 0 : (1 - v.x[i]) / (1 - p)))}),
    },
    {
      name: 'Bernoulli({probs}).entropy: probabilities 0 and 1 (entropy 0), interior',
      inputs: {p: vec([0, 1, 0.25, 0.5])},
      f: (t) => new Bernoulli({probs: t.p}).entropy(),
      ref: (v) => v.p.map((p) => -(xt(p, Math.log(p)) + xt(1 - p, Math.log1p(-p)))),
      rtol: 1e-6, atol: 1e-7, why: 'a log kernel, two products and a sum', finiteOnly: ['p'],
    },
    {
      name: 'Categorical({logits}).logProb: ordinary, ±3e38 (−∞ beyond float32), an index outside [0, K) (−∞)',
      inputs: {l: mat([[0.3, -1.2, 2], [3e38, -3e38, 0], [3e38, 3e38, -3e38], [1, 2, 3]])},
      f: (t) => new Categorical({logits: t.l}).logProb(tf.tensor1d([2, 1, 0, 3], 'int32')),
      ref: (v) => chunk(v.l, 3).map((l, i) => (i === 3 ? -Infinity : logSoftmax64(l)[[2, 1, 0][i]])),
      rtol: 1e-6, atol: 1e-7, why: 'a max-shifted log-softmax',
      // ∂ log softmax_x/∂l = onehot(x) − softmax(l): finite also where the value is −∞ (row 2); row 4 has no mass.
      dref: (v) => ({l: chunk(v.l, 3).flatMap((l, i) => (i === 3 ? [0, 0, 0] : logSoftmax64(l).map((a, c) => (c === [2, 1, 0][i] ? 1 : 0) - Math.exp(a))))}),
      gatol: 1e-7,
    },
    {
      name: 'Categorical({logits}).entropy and probabilities: ordinary and ±3e38',
      inputs: {l: mat([[0.3, -1.2, 2], [3e38, -3e38, 0], [3e38, 3e38, -3e38]])},
      f: (t) => {
        const c = new Categorical({logits: t.l});
        return tf.concat([c.entropy(), tf.reshape(c.probabilities(), [-1])]);
      },
      ref: (v) => [...chunk(v.l, 3).map((l) => -logSoftmax64(l).reduce((s, a) => s + xt(Math.exp(a), a), 0)),
        ...chunk(v.l, 3).flatMap((l) => logSoftmax64(l).map(Math.exp))],
      rtol: 2e-6, atol: 1e-7, why: 'a log-softmax, K products and a sum', finiteOnly: ['l'],
    },
    {
      name: 'Categorical({probs}).logProb and entropy: probabilities 0 and 1',
      inputs: {p: mat([[0.2, 0.8, 0], [0, 0, 1]])},
      f: (t) => {
        const c = new Categorical({probs: t.p});
        return tf.concat([c.logProb(tf.tensor1d([2, 2], 'int32')), c.logProb(tf.tensor1d([1, 2], 'int32')), c.entropy()]);
      },
      ref: (v) => {
        const rows = chunk(v.p, 3);
        return [Math.log(rows[0][2]), Math.log(rows[1][2]), Math.log(rows[0][1]), Math.log(rows[1][2]),
          ...rows.map((r) => -r.reduce((s, a) => s + xt(a, Math.log(a)), 0))];
      },
      rtol: 1e-6, atol: 1e-7, why: 'log kernels, K products and a sum', finiteOnly: ['p'],
    },
    {
      name: 'MixtureOfGaussians.logProb: near each component, between them, and at 1e30 (beyond float32: −∞)',
      inputs: {x: mat([[0, 1], [2, -1], [1, 0], [1e30, 0]]), logits: vec(MOG.logits), locs: mat(MOG.locs), scales: mat(MOG.scales)},
      f: (t) => new MixtureOfGaussians({logits: t.logits, locs: t.locs, scales: t.scales}).logProb(t.x),
      ref: (v) => chunk(v.x, 2).map((x) => mogLogProb64(x, v.logits, chunk(v.locs, 2), chunk(v.scales, 2))),
      rtol: 2e-6, atol: 1e-6, why: 'K·d normal log-densities, a log-softmax and a log-sum-exp',
      finiteOnly: ['x', 'logits', 'locs', 'scales'],
    },
    {
      name: 'MixtureOfGaussians.logProb and mean: gradients at ordinary points',
      inputs: {x: mat([[0, 1], [2, -1], [1, 0]]), logits: vec(MOG.logits), locs: mat(MOG.locs), scales: mat(MOG.scales)},
      f: (t) => {
        const m = new MixtureOfGaussians({logits: t.logits, locs: t.locs, scales: t.scales});
        return tf.concat([m.logProb(t.x), m.mean()]);
      },
      ref: (v) => {
        const locs = chunk(v.locs, 2);
        const w = logSoftmax64(v.logits).map(Math.exp);
        return [...chunk(v.x, 2).map((x) => mogLogProb64(x, v.logits, locs, chunk(v.scales, 2))),
          ...[0, 1].map((i) => w[0] * locs[0][i] + w[1] * locs[1][i])];
      },
      rtol: 2e-6, atol: 1e-6, why: 'as above', gtol: 1e-4, gatol: 1e-6,
    },
  ];
}

// ---------------------------------------------------------------------------
// Backend-free checks of the closed forms against float64 Monte Carlo
// ---------------------------------------------------------------------------

describe('closed-form KLs against a float64 Monte Carlo estimate', () => {
  const z = 5.75;  // two-sided 8.9e-9 ≤ P_ASSERTION per assertion; the means of 200,000 draws are normal to within
  // a Cornish–Fisher shift γ(z² − 1)/6 < 0.01 (|γ| ≤ 0.005 for these log-ratios), absorbed by testing at 5.75 + 0.25.
  const n = 200000;
  test('Normal ‖ Normal: mean of log q − log p at x = m + sε, variance ½(r² − 1)² + d²r² (derived)', () => {
    const [mq, sq, mp, sp] = [0.3, 0.5, -0.2, 0.8];
    const eps = normalDraws(n, 11);
    const est = eps.reduce((s, e) => {
      const x = mq + sq * e;
      return s + normalLogProb64(x, mq, sq) - normalLogProb64(x, mp, sp);
    }, 0) / n;
    const r = sq / sp;
    const d = (mq - mp) / sp;
    const sd = Math.sqrt(0.5 * (r * r - 1) ** 2 + d * d * r * r);
    expect(normalTwoSidedTail(z)).toBeLessThan(P_ASSERTION);
    expect(Math.abs(est - normalKL64(mq, sq, mp, sp))).toBeLessThan((z + 0.25) * sd / Math.sqrt(n));
  });
  test('Bernoulli ‖ Bernoulli and Categorical ‖ Categorical: frequencies of the log-ratio (exact variance Σ q_c (L_c − KL)²)', () => {
    const next = mulberry32(5);
    const check = (logQ: number[], logP: number[]): void => {
      const q = logQ.map(Math.exp);
      const L = logQ.map((a, c) => a - logP[c]);
      const exact = q.reduce((s, qc, c) => s + qc * L[c], 0);
      const sd = Math.sqrt(q.reduce((s, qc, c) => s + qc * (L[c] - exact) ** 2, 0));
      let sum = 0;
      for (let i = 0; i < n; i++) {
        let u = next();
        let c = 0;
        while (c < q.length - 1 && u >= q[c]) u -= q[c++];
        sum += L[c];
      }
      expect(Math.abs(sum / n - exact)).toBeLessThan((z + 0.25) * sd / Math.sqrt(n));
    };
    const [lq, lp] = [0.8, -1.5];
    check([bernLogs(lq)[1], bernLogs(lq)[0]], [bernLogs(lp)[1], bernLogs(lp)[0]]);
    expect(bernKL64(lq, lp)).toBeCloseTo(bernKLProbs64(sigmoid(lq), sigmoid(lp)), 12);
    const cq = [0.3, -1.2, 2];
    const cp = [1, 0.5, -0.5];
    check(logSoftmax64(cq), logSoftmax64(cp));
  });
});

// ---------------------------------------------------------------------------
// On each backend
// ---------------------------------------------------------------------------

/** A normal with no closed-form KL registered (it wraps one): kl must take the Monte Carlo path. */
class WrappedNormal extends Distribution {
  static className = 'WrappedNormal';
  override readonly reparameterized = true;
  constructor(readonly inner: Normal) {
    super();
  }
  override get batchShape(): number[] {
    return this.inner.batchShape;
  }
  override get eventShape(): number[] {
    return this.inner.eventShape;
  }
  override sample(s?: number[], seed?: number): tf.Tensor {
    return this.inner.sample(s, seed);
  }
  override sampleAndLogProb(s?: number[], seed?: number): [tf.Tensor, tf.Tensor] {
    return this.inner.sampleAndLogProb(s, seed);
  }
  override logProb(x: tf.Tensor): tf.Tensor {
    return this.inner.logProb(x);
  }
  override mean(): tf.Tensor {
    return this.inner.mean();
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

describe.each(NODE_BACKENDS)('distributions on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe('values and gradients against float64 references', () => {
    for (const row of [...normalRows(), ...klRows(), ...discreteRows()]) {
      test(`${row.name} — rtol ${row.rtol}: ${row.why}`, () => runRow(row));
    }
  });

  test('shapes: sample([k]) of a batch-[b, d] normal is [k, b, d]; eventRank 1 sums d in logProb, entropy, sampleAndLogProb', () => {
    tf.tidy(() => {
      const loc = tf.zeros([4, 3]);
      const q0 = new Normal({loc, scale: 1});
      expect(q0.batchShape).toEqual([4, 3]);
      expect(q0.eventShape).toEqual([]);
      expect(q0.sample([5], 1).shape).toEqual([5, 4, 3]);
      expect(q0.sample().shape).toEqual([4, 3]);
      const q = new Normal({loc, scale: tf.ones([3]), eventRank: 1});
      expect([q.batchShape, q.eventShape, q.eventRank]).toEqual([[4], [3], 1]);
      const [x, lp] = q.sampleAndLogProb([5, 2], 3);
      expect(x.shape).toEqual([5, 2, 4, 3]);
      expect(lp.shape).toEqual([5, 2, 4]);
      expect(q.logProb(x).shape).toEqual([5, 2, 4]);
      expect(q.entropy().shape).toEqual([4]);
      expect(q.mean().shape).toEqual([4, 3]);
      expect(q.logProb(tf.zeros([3])).shape).toEqual([4]);  // x broadcast against the batch
      expect(kl(q, new Normal({loc: tf.zeros([3]), scale: 2, eventRank: 1})).shape).toEqual([4]);
      const b = new Bernoulli({logits: tf.zeros([4, 3]), eventRank: 1});
      expect(b.sample([5], 1).shape).toEqual([5, 4, 3]);
      expect(b.sample([5], 1).dtype).toBe('float32');
      expect(b.logProb(b.sample([5], 1)).shape).toEqual([5, 4]);
      const c = new Categorical({logits: tf.zeros([4, 3, 6]), eventRank: 1});
      expect([c.batchShape, c.eventShape, c.numClasses]).toEqual([[4], [3], 6]);
      const cx = c.sample([5], 1);
      expect([cx.shape, cx.dtype]).toEqual([[5, 4, 3], 'int32']);
      expect(c.logProb(cx).shape).toEqual([5, 4]);
      expect(c.entropy().shape).toEqual([4]);
      const m = new MixtureOfGaussians({logits: MOG.logits, locs: MOG.locs, scales: MOG.scales});
      expect([m.batchShape, m.eventShape]).toEqual([[], [2]]);
      expect(m.sample([3, 4], 1).shape).toEqual([3, 4, 2]);
      expect(m.sampleAndLogProb([3], 1)[1].shape).toEqual([3]);
      expect(m.mean().shape).toEqual([2]);
    });
  });

  test('sampleAndLogProb: the sample of sample(shape, seed), with the log-density of logProb(x), computed through the noise', () => {
    tf.tidy(() => {
      for (const q of [new Normal({loc: [[0.5, -2], [1, 3]], scale: [[0.3, 2], [1, 0.7]], eventRank: 1}),
        Normal.fromLogVariance([0.5, 3], [Math.log(0.09), 2], 1)]) {
        const [x, lp] = q.sampleAndLogProb([7], 9);
        expect(Array.from(x.dataSync())).toEqual(Array.from(q.sample([7], 9).dataSync()));
        expect(lp.shape).toEqual(x.shape.slice(0, -1));
        // Recomputing (x − loc)/scale rounds x once more: a few 2⁻²⁴ of |x|/scale per element.
        compare('logProb(x)', lp.dataSync(), Array.from(q.logProb(x).dataSync()), 1e-5, 1e-5);
      }
      // loc 1e4 at scale 1e-5: a float32 x is up to 2⁻¹⁰ (98 standard deviations) from loc + scale·ε, so logProb(x)
      // is meaningless there, while through the noise the value is −½ε² − log 1e-5 − ½ log 2π: at most 10.59.
      const [, lp] = new Normal({loc: 1e4, scale: 1e-5}).sampleAndLogProb([1000], 4);
      const top = -Math.log(f32(1e-5)) - HALF_LOG_2PI;
      lp.dataSync().forEach((a) => expect(a <= top + 1e-5 && a > top - 30).toBe(true));
    });
  });

  test('seeded sample moments: normal mean and variance (2 statistical assertions)', () => {
    const n = 20000;
    const locs = [0.5, -3, 1e4, 0];
    const scales = [1, 0.25, 3, 1e30];
    const draws = tf.tidy(() => new Normal({loc: locs, scale: scales}).sample([n], 2024).arraySync() as number[][]);
    // 4 elements per assertion: 4 · P(|Z| > 6.15) = 4 · 7.8e-10 ≤ P_ASSERTION; variances 4 × (P_ASSERTION/4).
    const zm = 6.15;
    expect(4 * normalTwoSidedTail(zm)).toBeLessThan(P_ASSERTION);
    const {lo, hi} = sampleVarianceRatioBounds(n, P_ASSERTION / 4);
    const meanErrors: number[] = [];
    const varRatios: number[] = [];
    for (let j = 0; j < 4; j++) {
      const col = draws.map((r) => r[j]);
      const mean = col.reduce((a, b) => a + b, 0) / n;
      const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
      meanErrors.push(Math.abs(mean - locs[j]) / (scales[j] / Math.sqrt(n)));
      varRatios.push(variance / scales[j] ** 2);
    }
    expect(Math.max(...meanErrors)).toBeLessThan(zm);
    expect([Math.min(...varRatios) > lo, Math.max(...varRatios) < hi]).toEqual([true, true]);
  });

  test('seeded frequencies: Bernoulli and categorical samples (2 statistical assertions); exact at 0, 1 and ±3e38', () => {
    const n = 20000;
    const zm = 6.15;  // 4 frequencies per assertion, as above
    const bern = tf.tidy(() => new Bernoulli({probs: [0.2, 0.7, 0, 1]}).sample([n], 7).arraySync() as number[][]);
    const bl = tf.tidy(() => new Bernoulli({logits: [3e38, -3e38]}).sample([100], 7).arraySync() as number[][]);
    const zs = [0.2, 0.7].map((p, j) => Math.abs(bern.reduce((s, r) => s + r[j], 0) / n - p) / Math.sqrt(p * (1 - p) / n));
    expect(Math.max(...zs)).toBeLessThan(zm);
    expect([bern.every((r) => r[2] === 0 && r[3] === 1), bl.every((r) => r[0] === 1 && r[1] === 0)]).toEqual([true, true]);
    const probs = [0.1, 0.6, 0.3];
    const cat = tf.tidy(() => Array.from(new Categorical({logits: probs.map(Math.log)}).sample([n], 8).dataSync()));
    const cz = probs.map((p, c) => Math.abs(cat.filter((k) => k === c).length / n - p) / Math.sqrt(p * (1 - p) / n));
    expect(Math.max(...cz)).toBeLessThan(zm);
    const extreme = tf.tidy(() => Array.from(new Categorical({logits: [[-3e38, 3e38, 0], [0, -3e38, 3e38]]}).sample([50], 3).dataSync()));
    expect(extreme.every((k, i) => k === (i % 2 === 0 ? 1 : 2))).toBe(true);
    const onehot = tf.tidy(() => Array.from(new Categorical({probs: [0, 0, 1]}).sample([50], 3).dataSync()));
    expect(onehot.every((k) => k === 2)).toBe(true);
  });

  test('seeded mixture sample mean (1 statistical assertion)', () => {
    const n = 20000;
    const w = logSoftmax64(MOG.logits).map(Math.exp);
    const draws = tf.tidy(() => new MixtureOfGaussians(MOG).sample([n], 31).arraySync() as number[][]);
    const zm = 6;  // 2 coordinates: 2 · 2.0e-9 ≤ P_ASSERTION; excess kurtosis of a two-component mixture leaves the mean normal
    const zs = [0, 1].map((i) => {
      const mean = w[0] * MOG.locs[0][i] + w[1] * MOG.locs[1][i];
      const second = w.reduce((s, wk, k) => s + wk * (MOG.scales[k][i] ** 2 + MOG.locs[k][i] ** 2), 0);
      const got = draws.reduce((s, r) => s + r[i], 0) / n;
      return Math.abs(got - mean) / Math.sqrt((second - mean * mean) / n);
    });
    expect(2 * normalTwoSidedTail(zm)).toBeLessThan(P_ASSERTION);
    expect(Math.max(...zs)).toBeLessThan(zm);
  });

  test('kl Monte Carlo fallback: no closed form → the estimate, within its standard error of the closed form, and its gradient (2 statistical assertions)', () => {
    const [mq, sq, mp, sp] = [0.3, 0.5, -0.2, 0.8];
    const samples = 40000;
    const locQ = tf.scalar(mq);
    const f = (l: tf.Tensor): tf.Tensor => kl(new WrappedNormal(new Normal({loc: l, scale: sq})), new Normal({loc: mp, scale: sp}),
        {monteCarlo: {samples, seed: 77}});
    const value = tf.tidy(() => f(locQ).dataSync()[0]);
    const grad = tf.tidy(() => tf.grad(f)(locQ).dataSync()[0]);
    const r = sq / sp;
    const d = (mq - mp) / sp;
    const z = 6;  // each 2.0e-9 ≤ P_ASSERTION; the log-ratio's skewness at 40,000 draws shifts the tail by < 0.02
    expect(Math.abs(value - normalKL64(mq, sq, mp, sp))).toBeLessThan(z * Math.sqrt(0.5 * (r * r - 1) ** 2 + d * d * r * r) / Math.sqrt(samples));
    // ∂/∂m of log q(x) − log p(x) at x = m + sε (log q through the noise): (m + sε − m_p)/s_p², mean (m − m_p)/s_p², sd s/s_p².
    expect(Math.abs(grad - (mq - mp) / (sp * sp))).toBeLessThan(z * (sq / (sp * sp)) / Math.sqrt(samples));
    // The closed form, when registered, takes precedence over the option.
    tf.tidy(() => compare('closed form', kl(new Normal({loc: mq, scale: sq}), new Normal({loc: mp, scale: sp}), {monteCarlo: {samples: 3}}).dataSync(),
        [normalKL64(f32(mq), f32(sq), mp, sp)], 1e-6));
    locQ.dispose();
  });

  test('kl(MixtureOfGaussians, Normal): no closed form; the Monte Carlo estimate against numerical integration (1 statistical assertion)', () => {
    const mix = new MixtureOfGaussians({logits: [0.4, -0.4], locs: [[-1], [1.5]], scales: [[0.5], [0.8]]});
    const p = new Normal({loc: 0.2, scale: 1.3});  // a scalar p: its elements make up q's event [1]
    expect(() => kl(mix, p)).toThrow(/no closed form of KL\(MixtureOfGaussians ‖ Normal\) is registered.*monteCarlo/);
    // float64 reference: E_q[L] and Var_q[L] of L = log q − log p by the trapezoidal rule on [−10, 10] (tails < 1e-20).
    const w = logSoftmax64([0.4, -0.4]).map(Math.exp);
    const logQ = (x: number): number => logSumExp([0, 1].map((k) => Math.log(w[k]) + normalLogProb64(x, [-1, 1.5][k], [0.5, 0.8][k])));
    let m1 = 0;
    let m2 = 0;
    const h = 1e-3;
    for (let x = -10; x <= 10; x += h) {
      const q = Math.exp(logQ(x));
      const L = logQ(x) - normalLogProb64(x, 0.2, 1.3);
      m1 += q * L * h;
      m2 += q * L * L * h;
    }
    const samples = 40000;
    const est = tf.tidy(() => kl(mix, p, {monteCarlo: {samples, seed: 5}}).dataSync()[0]);
    const z = 6;  // 2.0e-9 ≤ P_ASSERTION
    expect(Math.abs(est - m1)).toBeLessThan(z * Math.sqrt(m2 - m1 * m1) / Math.sqrt(samples) + 1e-6);
  });

  test('serialization: every class round-trips through its JSON config and the registry; tensor-built ones refuse', () => {
    const dists: Distribution[] = [
      new Normal({loc: [1e4, -2], scale: [1e-5, 1e30], eventRank: 1}),
      Normal.fromLogVariance([[0.5]], [[-1000]]),
      new Bernoulli({logits: [3e38, -3e38, 0]}),
      new Bernoulli({probs: [[0, 1], [0.25, 0.5]], eventRank: 2}),
      new Categorical({logits: [[1, 2, 3]]}),
      new Categorical({probs: [0, 0.25, 0.75]}),
      new MixtureOfGaussians(MOG),
    ];
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const d of dists) {
      const json = JSON.stringify(d.getConfig());
      expect(tf.serialization.getRegisteredName(d.constructor as never)).toBe(`${SERIALIZATION_PACKAGE}>${d.getClassName()}`);
      const [cls, fromConfig] = map[d.getClassName()];
      const again = fromConfig(cls, JSON.parse(json)) as Distribution;
      expect(again).toBeInstanceOf(d.constructor);
      expect(JSON.stringify(again.getConfig())).toBe(json);
      tf.tidy(() => {
        const x = d.sample([3], 4);
        expect(Array.from(again.logProb(x).dataSync())).toEqual(Array.from(d.logProb(x).dataSync()));
      });
    }
    const t = tf.tensor1d([1, 2]);
    expect(() => new Normal({loc: t, scale: 1}).getConfig()).toThrow(/Normal.getConfig: not serializable: built from tensors \(loc is a tf.Tensor\)/);
    expect(() => new Categorical({logits: t}).getConfig()).toThrow(/not serializable: built from tensors/);
    t.dispose();
  });

  test('no tensor leaks: every method of every class, and kl in both paths, leave the tensor count unchanged', () => {
    const params = tf.tidy(() => [tf.keep(tf.tensor1d([0.2, -0.4])), tf.keep(tf.tensor1d([0.5, 2]))]);
    const before = tf.memory().numTensors;
    const dists: Distribution[] = [
      new Normal({loc: params[0], scale: params[1]}), Normal.fromLogVariance(params[0], params[1], 1), new Normal({loc: [1, 2], scale: 3}),
      new Bernoulli({logits: params[0]}), new Bernoulli({probs: [0, 0.5]}),
      new Categorical({logits: [[1, 2], [3, 4]]}), new Categorical({probs: [[0, 1], [0.5, 0.5]]}), new MixtureOfGaussians(MOG),
    ];
    for (const d of dists) {
      const x = d.sample([3], 1);
      const [y, lp] = d.sampleAndLogProb([2], 1);
      const outs = [x, y, lp, d.logProb(x)];
      if (!(d instanceof MixtureOfGaussians)) outs.push(d.entropy());
      if (!(d instanceof Categorical)) outs.push(d.mean());
      if (d instanceof Normal) outs.push(d.stddev(), tf.tidy(() => d.sampleFromNoise(tf.zeros([2]))));
      if (!(d instanceof MixtureOfGaussians)) outs.push(kl(d, d));
      tf.dispose(outs);
    }
    tf.dispose([kl(dists[7], new Normal({loc: 0, scale: 1}), {monteCarlo: {samples: 4, seed: 1}}),
      tf.grad((l: tf.Tensor) => kl(new Normal({loc: l, scale: 1}), new Normal({loc: 0, scale: 2})))(params[0])]);
    expect(tf.memory().numTensors).toBe(before);
    // Tensor parameters are the caller's: methods never dispose them, mean() and stddev() return copies.
    const mean = dists[0].mean();
    mean.dispose();
    expect(params[0].isDisposed).toBe(false);
    tf.dispose(params);
  });
});

describe.each(NODE_BACKENDS)('one implementation of each formula, on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  /** Bitwise equality of two tensors' values. */
  function same(a: tf.Tensor, b: tf.Tensor): void {
    expect(a.shape).toEqual(b.shape);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  }

  test('the Gaussian NLLs are the negative normal log-densities, the Bernoulli and categorical ones the negative log-masses', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[0.5, -1e4], [2e19, 3]]);
      const mu = tf.tensor2d([[0.25, 1e4], [0, -2]]);
      const logVar = tf.tensor2d([[-180, 0.5], [1000, -3]]);
      same(tfv.losses.gaussianNLLFixedScale(x, mu, 0.3), tf.neg(new Normal({loc: mu, scale: 0.3}).logProb(x)));
      same(tfv.losses.gaussianNLLLearnedVariance(x, mu, logVar), tf.neg(Normal.fromLogVariance(mu, logVar).logProb(x)));
      const logits = tf.tensor2d([[3e38, -2], [0.5, -3e38]]);
      const bits = tf.tensor2d([[0, 1], [1, 1]]);
      same(tfv.losses.bernoulliNLLFromLogits(bits, logits), tf.neg(new Bernoulli({logits}).logProb(bits)));
      const classLogits = tf.tensor2d([[0.3, 3e38, -3e38], [1, 2, 3]]);
      same(tfv.losses.categoricalNLLFromLogits(tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3), classLogits),
          tf.neg(new Categorical({logits: classLogits}).logProb(tf.tensor1d([2, 0], 'int32'))));
    });
  });

  test('GaussianPrior: logProb and analyticKL are the Normal distribution\'s logProb and kl', () => {
    tf.tidy(() => {
      const prior = tfv.priors.gaussian({loc: 0.5, scale: 1e-3});
      const w = tf.tensor1d([0.5, -1e4, 3]);
      const loc = tf.tensor1d([1e4, 0, -2]);
      const scale = tf.tensor1d([1e-5, 1e30, 0.5]);
      same(prior.logProb(w), new Normal({loc: 0.5, scale: 1e-3}).logProb(w));
      same(prior.analyticKL(loc, scale), kl(new Normal({loc, scale}), new Normal({loc: 0.5, scale: 1e-3})));
      same(prior.analyticKL(loc, scale), tfv.distributions.normalKL(loc, scale, 0.5, 1e-3));
    });
  });

  test('a seed gives the same draws every time (0 included), different seeds different draws', () => {
    tf.tidy(() => {
      for (const d of [new Normal({loc: [0, 1], scale: 2}), new Bernoulli({probs: [0.5, 0.5]}), new Categorical({logits: [0, 0, 0]}),
        new MixtureOfGaussians(MOG)]) {
        same(d.sample([16], 0), d.sample([16], 0));
        same(d.sample([16], 123), d.sample([16], 123));
        expect(Array.from(d.sample([16], 123).dataSync())).not.toEqual(Array.from(d.sample([16], 124).dataSync()));
      }
    });
  });
});

describe('bad arguments: errors name the argument, what was expected and what was received', () => {
  test.each([
    [() => new Normal({loc: 0} as never), /Normal: expected exactly one of scale and logVar. Received: neither/],
    [() => new Normal({loc: 0, scale: 1, logVar: 0}), /exactly one of scale and logVar. Received: both/],
    [() => new Normal({loc: 0, scale: -1}), /Normal: expected scale to be a positive finite number. Received: scale=-1/],
    [() => new Normal({loc: NaN, scale: 1}), /expected loc to be a finite number. Received: loc=NaN/],
    [() => new Normal({loc: [1, 2, 3], scale: [1, 2]}), /expected the parameters to broadcast to one shape. Received: loc shape \[3\], scale shape \[2\]/],
    [() => new Normal({loc: [[1, 2], [3]], scale: 1}), /expected loc to be a rectangular nested array/],
    [() => new Normal({loc: [0, 0], scale: 1, eventRank: 2}), /expected eventRank to be an integer in \[0, 1\].*Received: eventRank=2/],
    [() => new Normal({loc: 0, scale: 1, sigma: 2} as never), /Normal: unknown option 'sigma'/],
    [() => new Normal({loc: tf.tensor1d([1], 'int32'), scale: 1}), /expected loc to be a float32 tensor. Received: loc of dtype int32/],
    [() => new Bernoulli({probs: [0.5, 1.5]}), /Bernoulli: expected probs to be probabilities in \[0, 1\]. Received: probs=\[0.5, 1.5\]/],
    [() => new Bernoulli({}), /Bernoulli: expected exactly one of logits and probs. Received: neither/],
    [() => new Categorical({probs: [0.5, 0.4]}), /expected each row of probs \(the last axis\) to sum to 1. Received: a row \[0.5,0.4\] summing to 0.9/],
    [() => new Categorical({logits: 3}), /expected logits of rank >= 1 .* Received: logits shape \[\]/],
    [() => new MixtureOfGaussians({logits: [0, 0], locs: [[0, 1]], scales: [[1, 1]]}), /expected locs of shape \[K, d\] with K = 2.*Received: locs shape \[1,2\]/],
    [() => new MixtureOfGaussians({logits: [0], locs: [[0, 1]], scales: [[1, 0]]}), /expected scales to be a positive finite number. Received: scales=0/],
    [() => new Normal({loc: 0, scale: 1}).sample([-1]), /Normal.sample: expected sampleShape to be an array of non-negative integers. Received: sampleShape=\[-1\]/],
    [() => new Normal({loc: 0, scale: 1}).sample([2], -3), /Normal.sample: expected seed to be a non-negative integer. Received: seed=-3/],
    [() => new Categorical({logits: [0, 1]}).mean(), /Categorical.mean: the mean of class labels is not defined/],
    [() => new MixtureOfGaussians(MOG).entropy(), /MixtureOfGaussians.entropy: no closed form/],
    [() => new MixtureOfGaussians(MOG).logProb(tf.zeros([3])), /expected x of shape \[..., 2\].*Received: x shape \[3\]/],
    [() => kl({} as never, new Normal({loc: 0, scale: 1})), /kl: expected q to be a Distribution/],
    [() => kl(new Normal({loc: [0], scale: 1}), new Normal({loc: [0], scale: 1, eventRank: 1})), /kl: expected p's event rank to be at most q's/],
    [() => kl(new Normal({loc: [0, 1], scale: 1}), new Normal({loc: [0, 1, 2], scale: 1})), /kl: expected the shapes of q and p to broadcast/],
    [() => kl(new Categorical({logits: [0, 1]}), new Categorical({logits: [0, 1, 2]})), /same number of classes. Received: q 2, p 3/],
    [() => kl(new MixtureOfGaussians(MOG), new Normal({loc: [0, 0], scale: 1, eventRank: 1}), {monteCarlo: {samples: 0}}),
      /kl: expected monteCarlo.samples to be a positive integer. Received: monteCarlo.samples=0/],
    [() => kl(new Normal({loc: 0, scale: 1}), new Normal({loc: 0, scale: 1}), {montecarlo: {}} as never), /kl: unknown option 'montecarlo'/],
    [() => registerKL(Object as never, Normal, () => tf.scalar(0)), /registerKL: expected qClass to be a Distribution class/],
    [() => registerKL(Normal, Normal, 3 as never), /registerKL: expected fn to be a function/],
  ])('%#', (f, message) => {
    expect(f).toThrow(message);
  });

  test('registerKL: a registered pair is found for subclasses, the most derived first', () => {
    class Narrow extends Normal {}
    class Wide extends Normal {}
    registerKL(Narrow, Normal, () => tf.scalar(-1));
    const [a, b, c] = tf.tidy(() => [
      kl(new Narrow({loc: 0, scale: 1}), new Wide({loc: 0, scale: 1})).dataSync()[0],
      kl(new Wide({loc: 0, scale: 2}), new Narrow({loc: 0, scale: 1})).dataSync()[0],
      kl(new Normal({loc: 0, scale: 1}), new Normal({loc: 0, scale: 1})).dataSync()[0],
    ]);
    expect(a).toBe(-1);
    expect(b).toBeCloseTo(normalKL64(0, 2, 0, 1), 5);
    expect(c).toBe(0);
  });
});
