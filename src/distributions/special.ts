/**
 * Special functions as tf ops built from elementary ops: the log-gamma
 * function and its derivatives, digamma and trigamma (no tfjs backend has
 * `Lgamma` or `Digamma` kernels). Each is element-wise, float32, for x > 0,
 * with its gradient through `tf.customGrad` (lgamma' = digamma,
 * digamma' = trigamma); `lgammaNumber` is log Γ of a JS number in double
 * precision, for constants.
 *
 * Domain: x > 0. At x = 0, lgamma and trigamma are +∞ and digamma −∞ (the
 * limits); for x < 0 (no reflection is implemented) and NaN the result is
 * NaN; at x = +∞, lgamma and digamma are +∞ and trigamma 0.
 *
 * References: Abramowitz & Stegun, Handbook of Mathematical Functions,
 * 6.1.33 (the Taylor series of log Γ(1 + t)), 6.1.40–41 (Stirling's series),
 * 6.3.5, 6.3.18 (digamma recurrence and asymptotic series), 6.4.6, 6.4.12
 * (trigamma); Lanczos, SIAM J. Numer. Anal. B 1 (1964), for `lgammaNumber`.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI} from './normal';

/** Euler–Mascheroni constant γ = −ψ(1). */
const EULER_GAMMA = 0.57721566490153286061;
/** The smallest positive float32 (2⁻¹⁴⁹): the branches' lower clip, so x ≤ 0 makes no NaN inside a branch. */
const FLOAT32_MIN_SUBNORMAL = 1.401298464324817e-45;

/** Riemann ζ(k) for integers k ≥ 2 in double: Σ_{n<N} n^−k plus the Euler–Maclaurin tail at N = 20 (error < 10⁻¹³). */
function zeta(k: number): number {
  const N = 20;
  let sum = 0;
  for (let n = N - 1; n >= 1; n--) sum += Math.pow(n, -k);
  // Tail Σ_{n≥N} n^−k ≈ N^{1−k}/(k−1) + N^−k/2 + k N^{−k−1}/12 − k(k+1)(k+2) N^{−k−3}/720.
  sum += Math.pow(N, 1 - k) / (k - 1) + 0.5 * Math.pow(N, -k) + k * Math.pow(N, -k - 1) / 12 -
      k * (k + 1) * (k + 2) * Math.pow(N, -k - 3) / 720 + k * (k + 1) * (k + 2) * (k + 3) * (k + 4) * Math.pow(N, -k - 5) / 30240;
  return sum;
}

/**
 * Coefficients c_1 … c_K of log Γ(1 + t) = Σ_k c_k t^k (A&S 6.1.33):
 * c_1 = −γ, c_k = (−1)^k ζ(k)/k. For |t| ≤ ½ the terms fall like 2^−k/k;
 * K = 26 leaves a remainder below 2·10⁻⁹·|t| (relative 4·10⁻⁹ of the sum, whose
 * magnitude is ≥ 0.42|t| there).
 */
const LGAMMA1P_COEFFS: number[] = (() => {
  const c = [-EULER_GAMMA];
  for (let k = 2; k <= 26; k++) c.push((k % 2 === 0 ? 1 : -1) * zeta(k) / k);
  return c;
})();

/** Below this, lgamma shifts its argument (downward recurrence to [½, 3⁄2)); at and above it, Stirling. */
const LGAMMA_STIRLING_FROM = 8;
/** Below this, digamma and trigamma shift their argument upwards (recurrence); at and above it, asymptotic series. */
const PSI_ASYMPTOTIC_FROM = 8;

/** Horner evaluation of Σ_k c_k t^k (k from 1) as tf ops. */
function seriesFromFirstPower(t: tf.Tensor, coeffs: number[]): tf.Tensor {
  let acc: tf.Tensor = tf.fill(t.shape, coeffs[coeffs.length - 1]);
  for (let k = coeffs.length - 2; k >= 0; k--) acc = tf.add(tf.mul(acc, t), coeffs[k]);
  return tf.mul(acc, t);
}

/** Replaces NaN by +∞ where `x = 0`, NaN where `x < 0` or NaN: the domain's edges (see the module's TSDoc). */
function applyDomain(x: tf.Tensor, value: tf.Tensor, atZero: number): tf.Tensor {
  const positive = tf.greater(x, 0);
  const zero = tf.equal(x, 0);
  return tf.where(positive, value, tf.where(zero, tf.fill(x.shape, atZero), tf.fill(x.shape, NaN)));
}

/**
 * log Γ(x) for x > 0, without a gradient (see `lgamma`). Three regions, each
 * free of cancellation (so the error is relative, a few float32 ulps, also
 * near the zeros x = 1 and x = 2):
 *
 * - x < ½: log Γ(x) = log Γ(1 + x) − log x, with the series of log Γ(1 + t) at t = x;
 * - ½ ≤ x < 8: with m = ⌊x − ½⌋ and t = x − m − 1 ∈ [−½, ½) (exact in float32),
 *   log Γ(x) = log Π_{j=1}^{m} (x − j) + log Γ(1 + t) (the recurrence downwards);
 * - x ≥ 8: Stirling, (x − ½)(log x − 1) − ½ + ½ log 2π + 1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷)
 *   (truncation error below 1/(1188 x⁹) ≈ 6·10⁻¹² at x = 8).
 */
function lgammaValue(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const small = tf.less(x, 0.5);
    const large = tf.greaterEqual(x, LGAMMA_STIRLING_FROM);
    // Every branch sees an argument inside its own region, so no branch makes NaN or ∞ (nor its gradient, for autodiff users).
    const xs = tf.clipByValue(x, FLOAT32_MIN_SUBNORMAL, 0.5);
    const xm = tf.clipByValue(x, 0.5, LGAMMA_STIRLING_FROM);
    const xl = tf.maximum(x, LGAMMA_STIRLING_FROM);
    // Middle region: m = ⌊x − ½⌋ ∈ {0, …, 7}; Π_{j ≤ m} (x − j), every factor exact in float32.
    const m = tf.floor(tf.sub(xm, 0.5));
    let prod: tf.Tensor = tf.onesLike(xm);
    for (let j = 1; j <= 7; j++) prod = tf.mul(prod, tf.where(tf.lessEqual(j, m), tf.sub(xm, j), tf.onesLike(xm)));
    const tMiddle = tf.sub(tf.sub(xm, m), 1);
    const middle = tf.add(tf.log(prod), seriesFromFirstPower(tMiddle, LGAMMA1P_COEFFS));
    const smallValue = tf.sub(seriesFromFirstPower(xs, LGAMMA1P_COEFFS), tf.log(xs));
    // Stirling: (x − ½)(log x − 1) keeps the two large terms of (x − ½) log x − x together.
    const r = tf.reciprocal(xl);
    const r2 = tf.square(r);
    const correction = tf.mul(r, tf.sub(1 / 12, tf.mul(r2, tf.sub(1 / 360, tf.mul(r2, tf.sub(1 / 1260, tf.mul(r2, 1 / 1680)))))));
    const stirling = tf.add(tf.add(tf.mul(tf.sub(xl, 0.5), tf.sub(tf.log(xl), 1)), HALF_LOG_TWO_PI - 0.5), correction);
    const value = tf.where(small, smallValue, tf.where(large, stirling, middle));
    return applyDomain(x, value, Infinity);
  });
}

/**
 * ψ(x) = d/dx log Γ(x) for x > 0, without a gradient (see `digamma`): the
 * recurrence ψ(x) = ψ(x + n) − Σ_{j<n} 1/(x + j) up to x + n ≥ 8, then the
 * asymptotic series ψ(y) = log y − 1/(2y) − 1/(12y²) + 1/(120y⁴) − 1/(252y⁶) + 1/(240y⁸) − 1/(132y¹⁰)
 * (truncation below 691/(32760 y¹²) ≈ 3·10⁻¹³ at y = 8). Near the root
 * x₀ ≈ 1.4616 the two parts cancel: there the error is absolute, a few
 * float32 ulps of ψ(x + n) ≈ 2.
 */
function digammaValue(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let y = tf.maximum(x, FLOAT32_MIN_SUBNORMAL);
    let shift: tf.Tensor = tf.zerosLike(y);
    for (let j = 0; j < PSI_ASYMPTOTIC_FROM; j++) {
      const below = tf.less(y, PSI_ASYMPTOTIC_FROM);
      shift = tf.add(shift, tf.where(below, tf.reciprocal(y), tf.zerosLike(y)));
      y = tf.where(below, tf.add(y, 1), y);
    }
    const r = tf.reciprocal(y);
    const r2 = tf.square(r);
    const tail = tf.mul(r2, tf.sub(1 / 12, tf.mul(r2, tf.sub(1 / 120, tf.mul(r2, tf.sub(1 / 252,
        tf.mul(r2, tf.sub(1 / 240, tf.mul(r2, 1 / 132)))))))));
    const asymptotic = tf.sub(tf.sub(tf.log(y), tf.mul(r, 0.5)), tail);
    // The shift may overflow (1/x for x < 3·10⁻³⁹) only where ψ(x) ≈ −1/x is beyond float32's range: −∞.
    return applyDomain(x, tf.sub(asymptotic, shift), -Infinity);
  });
}

/** Bernoulli numbers B_2, B_4, …, B_12 (the asymptotic series of the polygamma functions). */
const B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730];

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/**
 * The polygamma function ψ⁽ⁿ⁾(x) = dⁿ⁺¹/dxⁿ⁺¹ log Γ(x) of order n ≥ 1 for
 * x > 0, without a gradient: the recurrence
 * ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + N) + (−1)ⁿ⁺¹ n! Σ_{j<N} 1/(x + j)ⁿ⁺¹ (every term of one
 * sign: no cancellation) up to x + N ≥ 8, then the asymptotic series
 * (A&S 6.4.11)
 *
 *     ψ⁽ⁿ⁾(y) = (−1)ⁿ⁺¹ [ (n − 1)!/yⁿ + n!/(2yⁿ⁺¹) + Σ_{k=1}^{6} B_2k (2k + n − 1)!/((2k)! y^{2k+n}) ],
 *
 * (for n = 1: 1/y + 1/(2y²) + 1/(6y³) − 1/(30y⁵) + …; truncation below 10⁻¹⁰ of the value at y = 8).
 */
function polygammaValue(n: number, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const sign = n % 2 === 1 ? 1 : -1;
    let y = tf.maximum(x, FLOAT32_MIN_SUBNORMAL);
    let shift: tf.Tensor = tf.zerosLike(y);
    for (let j = 0; j < PSI_ASYMPTOTIC_FROM; j++) {
      const below = tf.less(y, PSI_ASYMPTOTIC_FROM);
      shift = tf.add(shift, tf.where(below, tf.pow(y, -(n + 1)), tf.zerosLike(y)));
      y = tf.where(below, tf.add(y, 1), y);
    }
    const r = tf.reciprocal(y);
    const r2 = tf.square(r);
    // Σ_k a_k r^{2k} by Horner in r², then × r^{n}: a_0 = (n − 1)!, a_k = B_2k (2k + n − 1)!/(2k)!.
    const a = [factorial(n - 1), ...B2K.map((b, i) => b * factorial(2 * (i + 1) + n - 1) / factorial(2 * (i + 1)))];
    let poly: tf.Tensor = tf.fill(y.shape, a[a.length - 1]);
    for (let k = a.length - 2; k >= 0; k--) poly = tf.add(tf.mul(poly, r2), a[k]);
    const asymptotic = tf.mul(tf.pow(r, n), tf.add(poly, tf.mul(r, factorial(n) / 2)));
    const value = tf.mul(tf.add(asymptotic, tf.mul(shift, factorial(n))), sign);
    // ψ⁽ⁿ⁾(+∞) = 0 (r = 0 there); at x = 0 the limit, (−1)ⁿ⁺¹·∞.
    return applyDomain(x, value, sign * Infinity);
  });
}

function asFloat(x: tf.Tensor, where: string): tf.Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw new Error(`${where}: expected x to be a tensor. Received: x=${typeof x === 'object' ? JSON.stringify(x) : String(x)}`);
  }
  if (x.dtype !== 'float32') {
    throw new Error(`${where}: expected x to be a float32 tensor. Received: dtype ${x.dtype}`);
  }
  return x;
}

/** `tf.customGrad` of a function of one tensor (its typing wants a variadic function). */
function customGrad1(f: (x: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor}):
    (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/** ψ⁽²⁾, the gradient of trigamma; its own gradient is not implemented (an error naming it, not a silent zero). */
const tetragammaOp = customGrad1((x: tf.Tensor) => ({
  value: polygammaValue(2, x),
  gradFunc: () => {
    throw new Error('trigamma: the gradient of its gradient (the fourth derivative of log Γ) is not implemented');
  },
}));

const trigammaOp = customGrad1((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: polygammaValue(1, x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tetragammaOp(saved[0])),
  };
});

const digammaOp = customGrad1((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: digammaValue(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, trigammaOp(saved[0])),
  };
});

const lgammaOp = customGrad1((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: lgammaValue(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, digammaOp(saved[0])),
  };
});

/**
 * log Γ(x), element-wise, for x > 0 (float32). Its gradient is ψ(x)
 * (`digamma`). Accurate to a few float32 ulps relative to log Γ(x) over
 * x ∈ [10⁻⁶, 10⁶], also at the zeros x = 1, 2 (tested against a float64
 * reference); +∞ at 0, NaN for x < 0.
 *
 * ```js
 * tfv.distributions.lgamma(tf.tensor([0.5, 1, 10]));  // [log √π, 0, log 9!]
 * ```
 */
export function lgamma(x: tf.Tensor): tf.Tensor {
  return lgammaOp(asFloat(x, 'lgamma'));
}

/**
 * The digamma function ψ(x) = d/dx log Γ(x), element-wise, for x > 0
 * (float32). Its gradient is the trigamma function ψ₁(x). Error within a few
 * float32 ulps of max(|ψ(x)|, 1) (absolute near the root x ≈ 1.4616); −∞
 * at 0, NaN for x < 0.
 */
export function digamma(x: tf.Tensor): tf.Tensor {
  return digammaOp(asFloat(x, 'digamma'));
}

/**
 * The trigamma function ψ₁(x) = d²/dx² log Γ(x), element-wise, for x > 0
 * (float32); relative error a few float32 ulps; +∞ at 0, NaN for x < 0. Its
 * gradient is the polygamma function ψ⁽²⁾(x) (the gradient of that is not
 * implemented: an error says so).
 */
export function trigamma(x: tf.Tensor): tf.Tensor {
  return trigammaOp(asFloat(x, 'trigamma'));
}

/** Lanczos coefficients (g = 7, n = 9): relative error below 10⁻¹⁵ for x ≥ ½. */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/**
 * log Γ(x) of a JS number, in double precision, for x > 0 (e.g. the
 * conjugate priors' constants log Γ(α₀ + n/2)): the Lanczos approximation for
 * x ≥ ½, log Γ(1 + x) − log x below (both parts positive there: no
 * cancellation); near the zeros x = 1, 2 the error is absolute, about 10⁻¹⁵.
 * +∞ at 0, NaN for x < 0 or NaN.
 */
export function lgammaNumber(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0 || x === Infinity) return Infinity;
  if (x < 0.5) return lgammaNumber(1 + x) - Math.log(x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  // (z + ½) log t − t as (z + ½)(log t − 1) − g: no overflow before the true value's.
  return HALF_LOG_TWO_PI + (z + 0.5) * (Math.log(t) - 1) - LANCZOS_G + Math.log(a);
}
