/**
 * lgamma, digamma and trigamma as tf ops (src/distributions/special.ts)
 * against float64 references written here, on every Node backend, over
 * x ∈ [10⁻⁶, 10⁶]; their gradients; the domain's edges; lgammaNumber; and
 * the Gamma distribution built on them (log-density, entropy, KL, sampler).
 *
 * The references (independent of the library's code paths): log Γ by the
 * upward recurrence to x ≥ 20 and Stirling's series to x⁻¹⁹ (error ~10⁻¹⁶
 * of the shifted value), except within ¼ of the zeros x = 1, 2, where the
 * recurrence would cancel: there the Taylor series of log Γ(1 + t) in the
 * form −log(1 + t) + (1 − γ)t + Σ (−1)^k (ζ(k) − 1) t^k / k (A&S 6.1.41's
 * neighbour), whose terms fall like 2^−k; ψ and ψ₁ by the upward recurrence
 * to x ≥ 20 and their asymptotic series. Anchors with closed forms
 * (log Γ(½) = log √π, ψ(1) = −γ, ψ₁(1) = π²/6, …) check the references.
 *
 * Tolerances, in units of float32's ε = 2⁻²³ ≈ 1.19·10⁻⁷:
 * - lgamma: |err| ≤ 8ε·|ref| + 2⁻¹⁴⁹ — relative everywhere, also at the zeros;
 * - digamma: |err| ≤ 8ε·max(|ref|, 1) — relative, except |ψ| < 1 (around the
 *   root x ≈ 1.4616, where the recurrence cancels), where it is absolute;
 * - trigamma: |err| ≤ 8ε·|ref|.
 * (Measured on cpu and wasm: at most 2.6, 3.3 and 1.6 of these units.)
 */
import * as tf from '@tensorflow/tfjs-core';

import {NODE_BACKENDS, useBackend} from './helpers/backends';
import * as tfv from '../src';  // also registers tfjs-core's gradients (through tfjs-layers), as a user's import does
import {Gamma} from '../src/distributions/gamma';
import {digamma, lgamma, lgammaNumber, trigamma} from '../src/distributions/special';

const EPS32 = 2 ** -23;
const EULER_GAMMA = 0.5772156649015329;

// ------------------------------------------------------------ float64 references

/** ζ(k) − 1 = Σ_{n≥2} n^−k for k ≥ 2: the sum below n = 60 and Euler–Maclaurin's tail from 60 (error < 10⁻¹⁸). */
function zetaMinusOne(k: number): number {
  const N = 60;
  let s = 0;
  for (let n = N - 1; n >= 2; n--) s += Math.pow(n, -k);
  const p = (m: number) => Math.pow(N, -k - m);
  return s + Math.pow(N, 1 - k) / (k - 1) + 0.5 * p(0) + k * p(1) / 12 - k * (k + 1) * (k + 2) * p(3) / 720 +
      k * (k + 1) * (k + 2) * (k + 3) * (k + 4) * p(5) / 30240;
}

/** log Γ(1 + t) for |t| ≤ ¼. */
function lgamma1p64(t: number): number {
  let s = -Math.log1p(t) + (1 - EULER_GAMMA) * t;
  for (let k = 2; k <= 40; k++) s += (k % 2 === 0 ? 1 : -1) * zetaMinusOne(k) * Math.pow(t, k) / k;
  return s;
}

/** Bernoulli numbers B_2 … B_20. */
const B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330];

function lgamma64(x: number): number {
  if (Math.abs(x - 1) <= 0.25) return lgamma1p64(x - 1);
  if (Math.abs(x - 2) <= 0.25) return Math.log(x - 1) + lgamma1p64(x - 2);
  let shift = 0;
  while (x < 20) {
    shift += Math.log(x);
    x += 1;
  }
  let series = 0;
  for (let k = 1; k <= B2K.length; k++) series += B2K[k - 1] / (2 * k * (2 * k - 1) * Math.pow(x, 2 * k - 1));
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

function digamma64(x: number): number {
  let shift = 0;
  while (x < 20) {
    shift += 1 / x;
    x += 1;
  }
  let series = 0;
  for (let k = 1; k <= B2K.length; k++) series += B2K[k - 1] / (2 * k * Math.pow(x, 2 * k));
  return Math.log(x) - 0.5 / x - series - shift;
}

function trigamma64(x: number): number {
  let shift = 0;
  while (x < 20) {
    shift += 1 / (x * x);
    x += 1;
  }
  let series = 1 / x + 0.5 / (x * x);
  for (let k = 1; k <= B2K.length; k++) series += B2K[k - 1] / Math.pow(x, 2 * k + 1);
  return series + shift;
}

// ------------------------------------------------------------ inputs

/** 241 log-spaced points from 10⁻⁶ to 10⁶, the regions' edges and the zeros' and root's neighbourhoods (as float32). */
const XS: number[] = (() => {
  const xs: number[] = [];
  for (let i = 0; i <= 240; i++) xs.push(Math.pow(10, -6 + 12 * i / 240));
  const edges = [0.5, 1.5, 2.5, 3.5, 7.5, 8, 7.999999, 8.000001, 0.4999999, 1, 2, 1.4616321, 3, 4, 5, 6, 7, 10, 100];
  for (const e of edges) xs.push(e);
  for (const d of [1e-7, 1e-6, 1e-4, 1e-2, 0.1, 0.3]) xs.push(1 + d, 1 - d, 2 + d, 2 - d, 1.4616321 + d, 1.4616321 - d);
  return xs.map(Math.fround);
})();

function maxScaledError(got: Float32Array|Int32Array|Uint8Array, ref: (x: number) => number, scale: (r: number) => number):
    {worst: number, at: number} {
  let worst = 0;
  let at = NaN;
  XS.forEach((x, i) => {
    const r = ref(x);
    const e = Math.abs(got[i] - r) / scale(r);
    if (!(e <= worst)) {
      worst = e;
      at = x;
    }
  });
  return {worst, at};
}

describe('the float64 references', () => {
  it('match closed forms', () => {
    const close = (a: number, b: number, tol = 1e-14) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
    close(lgamma64(0.5), 0.5 * Math.log(Math.PI));
    close(lgamma64(1), 0);
    close(lgamma64(2), 0);
    close(lgamma64(1.25), Math.log(0.9064024770554771));  // Γ(5/4)
    close(lgamma64(10), Math.log(362880));
    close(lgamma64(1e-6), -Math.log(1e-6) - EULER_GAMMA * 1e-6 + Math.PI ** 2 / 12 * 1e-12, 1e-15);
    close(digamma64(1), -EULER_GAMMA);
    close(digamma64(0.5), -EULER_GAMMA - 2 * Math.log(2));
    close(digamma64(2), 1 - EULER_GAMMA);
    close(trigamma64(1), Math.PI ** 2 / 6);
    close(trigamma64(0.5), Math.PI ** 2 / 2);
    close(lgammaNumber(0.5), 0.5 * Math.log(Math.PI));
  });
});

describe('lgammaNumber (double precision)', () => {
  it('matches the float64 reference to 1e-13 relative (absolute 1e-14 at the zeros), over 1e-6 … 1e6', () => {
    for (const x of [...XS, 1e-300, 0.75, 1e10, 123.456]) {
      const r = lgamma64(x);
      expect(Math.abs(lgammaNumber(x) - r)).toBeLessThanOrEqual(1e-13 * Math.abs(r) + 1e-14);
    }
  });

  it('is +∞ at 0 and +∞, NaN for x < 0 and NaN', () => {
    expect(lgammaNumber(0)).toBe(Infinity);
    expect(lgammaNumber(Infinity)).toBe(Infinity);
    expect(lgammaNumber(-1)).toBeNaN();
    expect(lgammaNumber(-0.5)).toBeNaN();
    expect(lgammaNumber(NaN)).toBeNaN();
  });
});

describe.each(NODE_BACKENDS)('special functions on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('lgamma: relative error ≤ 8 float32 ulps over 1e-6 … 1e6, also at the zeros x = 1, 2', () => {
    const got = tf.tidy(() => lgamma(tf.tensor1d(XS)).dataSync());
    const {worst, at} = maxScaledError(got, lgamma64, (r) => Math.abs(r) * EPS32 + 2 ** -149);
    if (!(worst <= 8)) throw new Error(`lgamma: ${worst.toFixed(1)} ulps at x = ${at}`);
    expect(got[XS.indexOf(1)]).toBe(0);
    expect(got[XS.indexOf(2)]).toBe(0);
  });

  it('digamma: error ≤ 8 float32 ulps of max(|ψ|, 1) over 1e-6 … 1e6', () => {
    const got = tf.tidy(() => digamma(tf.tensor1d(XS)).dataSync());
    const {worst, at} = maxScaledError(got, digamma64, (r) => Math.max(Math.abs(r), 1) * EPS32);
    if (!(worst <= 8)) throw new Error(`digamma: ${worst.toFixed(1)} ulps at x = ${at}`);
  });

  it('trigamma: relative error ≤ 8 float32 ulps over 1e-6 … 1e6', () => {
    const got = tf.tidy(() => trigamma(tf.tensor1d(XS)).dataSync());
    const {worst, at} = maxScaledError(got, trigamma64, (r) => Math.abs(r) * EPS32);
    if (!(worst <= 8)) throw new Error(`trigamma: ${worst.toFixed(1)} ulps at x = ${at}`);
  });

  it('gradients: lgamma\' = digamma, digamma\' = trigamma (to the same tolerances), chained through upstream gradients', () => {
    const [dl, dd] = tf.tidy(() => {
      const x = tf.tensor1d(XS);
      const up = tf.fill([XS.length], 2);
      return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lgamma(t), up)))(x).dataSync(),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(digamma(t), up)))(x).dataSync()];
    });
    const l = maxScaledError(dl, (x) => 2 * digamma64(x), (r) => Math.max(Math.abs(r), 2) * EPS32);
    const d = maxScaledError(dd, (x) => 2 * trigamma64(x), (r) => Math.abs(r) * EPS32);
    if (!(l.worst <= 8)) throw new Error(`d lgamma: ${l.worst.toFixed(1)} ulps at x = ${l.at}`);
    if (!(d.worst <= 8)) throw new Error(`d digamma: ${d.worst.toFixed(1)} ulps at x = ${d.at}`);
  });

  it('trigamma\'s gradient ψ⁽²⁾ matches the central difference of the float64 trigamma; its gradient in turn is an error', () => {
    const xs = [1e-3, 0.3, 1, 2.5, 7.9, 8.1, 50, 1e4];
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(trigamma(t)))(tf.tensor1d(xs)).dataSync());
    xs.forEach((x, i) => {
      // Step h = 1e-4·x: truncation ~h²·ψ⁽⁴⁾/6, relative < 1e-7; rounding ~1e-16/1e-4: both far below 16 ulps.
      const h = 1e-4 * x;
      const ref = (trigamma64(x + h) - trigamma64(x - h)) / (2 * h);
      expect(Math.abs(g[i] - ref)).toBeLessThanOrEqual(16 * EPS32 * Math.abs(ref));
    });
    const x = tf.tensor1d([1]);
    expect(() => tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(trigamma(u)))(t)))(x))
        .toThrow('trigamma: the gradient of its gradient (the fourth derivative of log Γ) is not implemented');
    x.dispose();
  });

  it('domain edges: +∞ / −∞ / +∞ at 0, NaN for x < 0 and NaN, the limits at +∞; finite where the true value is', () => {
    const x = tf.tensor1d([0, -1, -0.5, NaN, Infinity, 1e-30, 1e-38, 3e38]);
    const [l, d, t] = tf.tidy(() => [lgamma(x), digamma(x), trigamma(x)].map((y) => Array.from(y.dataSync())));
    expect(l.slice(0, 5)).toEqual([Infinity, NaN, NaN, NaN, Infinity]);
    expect(d.slice(0, 5)).toEqual([-Infinity, NaN, NaN, NaN, Infinity]);
    expect(t.slice(0, 5)).toEqual([Infinity, NaN, NaN, NaN, 0]);
    // lgamma(1e-30) = 69.08, lgamma(1e-38) = 87.5, lgamma(3e38) ≈ 2.6e40 (beyond float32: +∞).
    expect(Math.abs(l[5] - lgamma64(1e-30)) / lgamma64(1e-30)).toBeLessThan(16 * EPS32);
    expect(Math.abs(l[6] - 87.49823353377374)).toBeLessThan(16 * EPS32 * 87.5);
    expect(l[7]).toBe(Infinity);
    // ψ(1e-30) ≈ −1e30, ψ(1e-38) ≈ −1e38 (finite), ψ(3e38) = 88.6.
    expect(Math.abs(d[5] / -1e30 - 1)).toBeLessThan(16 * EPS32);
    expect(Number.isFinite(d[6])).toBe(true);
    expect(Math.abs(d[7] - Math.log(3e38))).toBeLessThan(16 * EPS32 * 89);
    // ψ₁(1e-30) = 1e60: beyond float32, +∞; ψ₁(3e38) ≈ 3.3e-39 (subnormal, finite).
    expect(t[5]).toBe(Infinity);
    expect(t[7]).toBeGreaterThan(0);
    x.dispose();
  });

  it('reject a non-float32 or non-tensor input, naming the function; leak no tensor', () => {
    expect(() => lgamma(tf.tensor1d([1], 'int32'))).toThrow('lgamma: expected x to be a float32 tensor. Received: dtype int32');
    expect(() => digamma([1, 2] as unknown as tf.Tensor)).toThrow('digamma: expected x to be a tensor. Received: x=[1,2]');
    const x = tf.tensor1d([0.3, 3, 30]);
    const before = tf.memory().numTensors;
    for (const f of [lgamma, digamma, trigamma]) {
      f(x).dispose();
      tf.grad((t: tf.Tensor) => tf.sum(f(t)))(x).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

// ------------------------------------------------------------ the Gamma distribution (lgamma and digamma in use)

/** log Gamma(x; α, rate β) in float64. */
const gammaLogPdf64 = (x: number, a: number, b: number) => a * Math.log(b) - lgamma64(a) + (a - 1) * Math.log(x) - b * x;
const gammaKL64 = (a1: number, b1: number, a2: number, b2: number) =>
  (a1 - a2) * digamma64(a1) - lgamma64(a1) + lgamma64(a2) + a2 * (Math.log(b1) - Math.log(b2)) + a1 * (b2 / b1 - 1);

/** Mean, variance and third central moment of f(x), x ~ Gamma(α, β), by the trapezoid rule in t = log x (step 1e-3 over 40 sd of log x). */
function gammaMoments64(a: number, b: number, f: (x: number) => number): {mean: number, variance: number, third: number} {
  const center = digamma64(a) - Math.log(b);
  const sd = Math.sqrt(trigamma64(a));
  const h = 1e-3 * sd;
  const pts: Array<[number, number]> = [];
  for (let t = center - 40 * sd; t <= center + 12 * sd; t += h) {
    const x = Math.exp(t);
    pts.push([f(x), Math.exp(gammaLogPdf64(x, a, b) + t) * h]);
  }
  const mean = pts.reduce((s, [v, p]) => s + v * p, 0);
  return {mean, variance: pts.reduce((s, [v, p]) => s + (v - mean) ** 2 * p, 0), third: pts.reduce((s, [v, p]) => s + (v - mean) ** 3 * p, 0)};
}

/** |mean − expected| ≤ 6.5 standard errors, the Cornish–Fisher-shifted quantile above 6 (P ≤ 2e-9 per assertion; see priors.test.ts). */
function expectMeanWithin(mc: number, expected: number, variance: number, third: number, n: number): void {
  const z = 6.5;
  const skew = third / variance ** 1.5 / Math.sqrt(n);
  expect(z - Math.abs(skew) * (z * z - 1) / 6).toBeGreaterThan(6);
  const tol = z * Math.sqrt(variance / n);
  if (!(Math.abs(mc - expected) <= tol)) throw new Error(`${mc} vs ${expected}: off by ${Math.abs(mc - expected)} > ${tol}`);
}

describe.each(NODE_BACKENDS)('the Gamma distribution on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  const A = [0.3, 1, 2.5, 40, 1e3];
  const B = [2, 0.5, 1, 1e-2, 30];

  it('logProb, mean and entropy match float64 (α from 0.3 to 1e3)', () => {
    const xs = [0.01, 1, 3, 5000, 33];
    const g = new Gamma({concentration: A, rate: B});
    const [lp, mean, h] = tf.tidy(() => [g.logProb(tf.tensor1d(xs)), g.mean(), g.entropy()].map((t) => Array.from(t.dataSync())));
    // Each a sum of ≤ 5 terms up to |α log β| ≈ 3.4e3 (α = 1e3): relative to Σ|terms|.
    xs.forEach((x, i) => {
      const [a, b] = [A[i], B[i]];
      const mag = Math.abs(a * Math.log(b)) + Math.abs(lgamma64(a)) + Math.abs((a - 1) * Math.log(x)) + b * x;
      expect(Math.abs(lp[i] - gammaLogPdf64(x, a, b))).toBeLessThanOrEqual(8 * EPS32 * mag);
      expect(Math.abs(mean[i] - a / b)).toBeLessThanOrEqual(2 * EPS32 * a / b);
      const hRef = a - Math.log(b) + lgamma64(a) + (1 - a) * digamma64(a);
      const hMag = a + Math.abs(Math.log(b)) + Math.abs(lgamma64(a)) + Math.abs((1 - a) * digamma64(a));
      expect(Math.abs(h[i] - hRef)).toBeLessThanOrEqual(8 * EPS32 * hMag);
    });
  });

  it('kl(Gamma, Gamma) is the registered closed form: float64 values, gradients, and zero at q = p', () => {
    const q = [[0.3, 2], [1, 0.5], [2.5, 1], [40, 0.01], [5, 30]];
    const p = [[1, 1], [3, 2], [0.5, 0.1], [30, 0.02], [5, 30]];
    const kl = tf.tidy(() => Array.from(tfv.distributions.kl(
        new Gamma({concentration: q.map((r) => r[0]), rate: q.map((r) => r[1])}),
        new Gamma({concentration: p.map((r) => r[0]), rate: p.map((r) => r[1])})).dataSync()));
    q.forEach(([a1, b1], i) => {
      const [a2, b2] = p[i];
      const mag = Math.abs((a1 - a2) * digamma64(a1)) + Math.abs(lgamma64(a1)) + Math.abs(lgamma64(a2)) +
        Math.abs(a2 * Math.log(b1 / b2)) + Math.abs(a1 * (b2 / b1 - 1));
      expect(Math.abs(kl[i] - gammaKL64(a1, b1, a2, b2))).toBeLessThanOrEqual(16 * EPS32 * mag);
    });
    expect(Math.abs(kl[4])).toBeLessThan(1e-5);
    // Gradients in q's concentration and rate against central differences of float64.
    const [ga, gb] = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tfv.distributions.kl(
        new Gamma({concentration: a, rate: b}), new Gamma({concentration: p.map((r) => r[0]), rate: p.map((r) => r[1])}))))(
        [tf.tensor1d(q.map((r) => r[0])), tf.tensor1d(q.map((r) => r[1]))]).map((t) => Array.from(t.dataSync())));
    q.forEach(([a1, b1], i) => {
      const [a2, b2] = p[i];
      const h = 1e-6 * a1;
      const da = (gammaKL64(a1 + h, b1, a2, b2) - gammaKL64(a1 - h, b1, a2, b2)) / (2 * h);
      const hb = 1e-6 * b1;
      const db = (gammaKL64(a1, b1 + hb, a2, b2) - gammaKL64(a1, b1 - hb, a2, b2)) / (2 * hb);
      expect(Math.abs(ga[i] - da)).toBeLessThanOrEqual(1e-4 * (Math.abs(da) + 1));
      expect(Math.abs(gb[i] - db)).toBeLessThanOrEqual(1e-4 * (Math.abs(db) + 1 / b1));
    });
  });

  it('samples: the mean of 20,000 draws per α (0.3, 1, 5) is within its standard error; the KL matches Monte Carlo over them', () => {
    // Seeded (seed 7): deterministic; the tolerances hold for any seed (expectMeanWithin).
    const n = 20000;
    const alphas = [0.3, 1, 5];
    const rate = 2;
    const g = new Gamma({concentration: alphas, rate});
    const x = g.sample([n], 7);
    expect(x.shape).toEqual([n, 3]);
    const cols = tf.tidy(() => tf.unstack(tf.transpose(x)).map((c) => Array.from(c.dataSync())));
    alphas.forEach((a, j) => {
      expect(cols[j].every((v) => v > 0 && Number.isFinite(v))).toBe(true);
      const mean = cols[j].reduce((s, v) => s + v, 0) / n;
      // Var = α/β², third central moment 2α/β³.
      expectMeanWithin(mean, a / rate, a / rate ** 2, 2 * a / rate ** 3, n);
    });
    // KL(Gamma(5, 2) ‖ Gamma(3, 1)) against the Monte Carlo mean of log q − log p over the α = 5 draws.
    const p = new Gamma({concentration: 3, rate: 1});
    const q = new Gamma({concentration: 5, rate: 2});
    const x5 = tf.tensor1d(cols[2]);
    const mc = tf.tidy(() => tf.mean(tf.sub(q.logProb(x5), p.logProb(x5))).dataSync()[0]);
    const exact = tf.tidy(() => tfv.distributions.kl(q, p).dataSync()[0]);
    const f = (v: number) => gammaLogPdf64(v, 5, 2) - gammaLogPdf64(v, 3, 1);
    const m = gammaMoments64(5, 2, f);
    expect(m.mean).toBeCloseTo(gammaKL64(5, 2, 3, 1), 8);  // the quadrature agrees with the closed form
    expectMeanWithin(mc, exact, m.variance, m.third, n);
    tf.dispose([x, x5]);
  });

  it('rejects non-positive parameters and unknown options, round-trips its config, and is registered', () => {
    expect(() => new Gamma({concentration: 0, rate: 1})).toThrow(/Gamma: expected concentration to be a positive finite number/);
    expect(() => new Gamma({concentration: 1, rate: -2})).toThrow(/rate/);
    expect(() => new Gamma({concentration: 1, rate: 1, scale: 2} as unknown as {concentration: number, rate: number}))
        .toThrow("Gamma: unknown option 'scale'. Known options: concentration, rate, eventRank");
    const g = new Gamma({concentration: [1, 2], rate: 3, eventRank: 1});
    expect(g.getConfig()).toEqual({concentration: [1, 2], rate: 3, eventRank: 1});
    expect(tf.serialization.getRegisteredName(Gamma)).toBe('tfv>Gamma');
    const before = tf.memory().numTensors;
    const lp = g.logProb(tf.tensor1d([0.5, 2]));
    expect(lp.shape).toEqual([]);
    tf.dispose([lp, g.entropy(), g.mean(), g.sample([3], 1)]);
    expect(tf.memory().numTensors).toBe(before + 1);  // the tensor1d argument
  });
});
