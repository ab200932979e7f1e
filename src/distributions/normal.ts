/**
 * The univariate normal distribution, element by element: log-densities, the
 * closed-form KL divergence between two normals, and the softplus transform
 * that keeps a learned scale positive. Priors (`src/priors`) and Bayesian
 * layers share these.
 *
 * Every function works element-wise and broadcasts like the tfjs op it is
 * made of; reductions are the caller's choice.
 */
import * as tf from '@tensorflow/tfjs-core';

import {posteriorKernels} from '../perf/posterior_kernels';

/** ½ log 2π: the normalising constant of every Gaussian density in the library (defined here only). */
export const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/**
 * The smallest scale `softplusScale` returns: σ = SCALE_FLOOR + softplus(ρ).
 * It keeps `log σ` and `1/σ` finite when ρ is very negative (softplus(−50)
 * ≈ 2·10⁻²² would make `log σ` ≈ −50 and a KL gradient ≈ 10²²).
 */
export const SCALE_FLOOR = 1e-5;

/** The smallest normal float32 (2⁻¹²⁶); below it a float32 keeps fewer than 24 significant bits. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * `t · c` for a positive double constant `c` that may lie outside float32's
 * range (e.g. `√½/scale` for a scale of 10⁻⁴⁰): rounding `c` to float32 would
 * give ∞ or 0 and then `0·∞ = NaN` at `t = 0`. `c` is applied as n equal
 * factors `c^{1/n}`, each within [10⁻³⁷, 10³⁷]; n = 1 (a single multiply) for
 * every `c` in that range.
 */
export function mulByPositiveConstant(t: tf.Tensor, c: number): tf.Tensor {
  if (!(c > 0) || !Number.isFinite(c)) {
    throw new Error(`mulByPositiveConstant: expected c to be a positive finite number. Received: c=${c}`);
  }
  const n = Math.max(1, Math.ceil(Math.abs(Math.log(c)) / Math.log(1e37)));
  const factor = n === 1 ? c : Math.pow(c, 1 / n);
  return tf.tidy(() => {
    let out = t;
    for (let i = 0; i < n; i++) out = tf.mul(out, factor);
    return out;
  });
}

/** Broadcasts two tensors to their common shape (gradients summed back by tf.broadcastTo). */
export function broadcastPair(a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const same = (t: tf.Tensor): boolean => t.rank === shape.length && t.shape.every((d, i) => d === shape[i]);
  return [same(a) ? a : tf.broadcastTo(a, shape), same(b) ? b : tf.broadcastTo(b, shape)];
}

/**
 * `½z²` as `z·(½z)`: the product overflows only where ½z² does (`z²` alone
 * overflows from |z| = 1.8·10¹⁹), and autodiff adds two halves `½z` for the
 * gradient, where `d(z²)/dz = 2z` would overflow from |z| = 1.7·10³⁸ while
 * the true gradient z is finite.
 */
export function halfSquare(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(z, tf.mul(z, 0.5)));
}

/**
 * `a / b` with the gradients `dy/b` and `−(dy·(a/b))/b`. tfjs's Div gradient
 * forms `a/b²` for the divisor, which is `0/0 = NaN` once b² underflows
 * (b below 10⁻²³, at a = 0) and 0 once it overflows (b = 10³⁰: the true
 * `−a/b²` may still be a normal number, e.g. 10⁻³⁰).
 */
const safeDivSameShape = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.div(a, b);
  save([b, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sb, sValue] = saved;
      return [tf.div(dy, sb), tf.neg(tf.div(tf.mul(dy, sValue), sb))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a / b`, broadcasting, with the gradients of `safeDivSameShape`. */
export function safeDiv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [sa, sb] = broadcastPair(a, b);
    return safeDivSameShape(sa, sb);
  });
}

/**
 * `(x − loc)/scale`; a number `scale` is applied as the double-precision
 * factor `1/scale` (see {@link mulByPositiveConstant}), a tensor one through
 * `safeDiv`.
 */
function scaledResidual(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const d = loc === 0 ? x : tf.sub(x, loc);
    return typeof scale === 'number' ? mulByPositiveConstant(d, 1 / scale) : safeDiv(d, scale);
  });
}

/**
 * `−log N(x; loc, scale²) = ½ ((x − loc)/scale)² + log scale + ½ log 2π`,
 * the one implementation of the normal log-density: {@link normalLogProb} is
 * its negation, the fixed-scale Gaussian NLL of `tfv.losses` is this.
 * `loc` and `scale` may be tensors or numbers; `scale > 0`.
 *
 * With z = (x − loc)/scale (a number scale as the double-precision factor
 * `1/scale`, applied in float32-sized pieces where it lies outside float32's
 * range; see {@link mulByPositiveConstant}), the half-square is `z·(½z)`
 * (see `halfSquare`): squaring before halving would overflow from
 * |z| = 1.8·10¹⁹, where the value still fits in float32, and the gradient
 * `z/scale` is formed without an overflowing `2z`. For a number scale the
 * constant `log scale + ½ log 2π` is summed in double precision and added
 * once.
 */
export function normalNegLogProb(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const halfZ2 = halfSquare(scaledResidual(x, loc, scale));
    if (typeof scale === 'number') return tf.add(halfZ2, Math.log(scale) + HALF_LOG_TWO_PI);
    return tf.add(tf.add(halfZ2, tf.log(scale)), HALF_LOG_TWO_PI);
  });
}

/**
 * `log N(x; loc, scale²) = −½ ((x − loc)/scale)² − log scale − ½ log 2π`,
 * the negation of `normalNegLogProb`. `loc` and `scale` may be tensors
 * or numbers; `scale > 0`.
 */
export function normalLogProb(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => tf.neg(normalNegLogProb(x, loc, scale)));
}

/**
 * The reparameterized sample `loc + scale ⊙ eps` for a standard-normal
 * `eps`: the one place this product is written (the `Normal` distribution,
 * the Monte Carlo divergence of priors and the dense estimators call it).
 * Broadcasts like `tf.add`/`tf.mul`; gradients `∂/∂loc = 1`, `∂/∂scale = eps`.
 * (For a log-variance parameterization see {@link sampleFromLogVariance}.)
 */
export function normalSampleFromNoise(loc: tf.Tensor|number, scale: tf.Tensor|number, eps: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(loc, tf.mul(scale, eps)));
}

/**
 * `log N(w; loc, scale²)` at the reparameterized sample `w = loc + scale ⊙ eps`,
 * written through the noise:
 *
 *     log q(w) = −½ eps² − log scale − ½ log 2π.
 *
 * Equal in value to `normalLogProb(w, loc, scale)`, and with the same total
 * (pathwise + direct) gradient with respect to `loc` and `scale` — the two
 * paths through `w` and through the density's parameters cancel to
 * `∂/∂loc = 0`, `∂/∂scale = −1/scale` — but without the rounding of
 * recomputing `(w − loc)/scale`.
 */
export function normalLogProbOfNoise(eps: tf.Tensor, scale: tf.Tensor|number): tf.Tensor {
  // On the wasm backend, one fused pass for the value and one for both gradients (same arithmetic).
  if (typeof scale !== 'number' && posteriorKernels(eps, scale) !== null) return fusedLogProbOfNoise(eps, scale);
  // ½eps² as eps·(½eps): overflows only where the true value does, and so does its gradient (see halfSquare).
  return tf.tidy(() => {
    const negHalfEps2 = tf.neg(halfSquare(eps));
    // A number scale: the constant in double precision, subtracted once.
    if (typeof scale === 'number') return tf.sub(negHalfEps2, Math.log(scale) + HALF_LOG_TWO_PI);
    return tf.sub(tf.sub(negHalfEps2, tf.log(scale)), HALF_LOG_TWO_PI);
  });
}

/**
 * `normalLogProbOfNoise` for a tensor scale in the fused passes of
 * `src/perf/posterior_kernels.ts`: `−ε·(½ε) − log σ − ½ log 2π`, gradients
 * `−dy·ε` and `−dy/σ`. Where the kernels cannot run at gradient time, tfjs ops.
 */
const fusedLogProbOfNoise = customGrad2((eps: tf.Tensor, scale: tf.Tensor, save: tf.GradSaveFunc) => {
  save([eps, scale]);
  const k = posteriorKernels(eps, scale);
  const value = k !== null ? k.noiseLogProb(eps, scale, HALF_LOG_TWO_PI) :
      tf.sub(tf.sub(tf.neg(halfSquare(eps)), tf.log(scale)), HALF_LOG_TWO_PI);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [e, sigma] = saved;
      const kg = posteriorKernels(dy, e, sigma);
      return kg !== null ? kg.noiseLogProbGrad(dy, e, sigma) : [tf.neg(tf.mul(dy, e)), tf.neg(tf.div(dy, sigma))];
    },
  };
});

/** Number prior parameters within this range take the fused pass of `normalKL` (a single multiply by 1/scaleP, as `mulByPositiveConstant`). */
const FUSED_SCALE_RANGE = [1e-30, 1e30];

/**
 * `KL(N(locQ, scaleQ²) ‖ N(locP, scaleP²))`, element-wise:
 *
 *     log(scaleP/scaleQ) + (scaleQ² + (locQ − locP)²) / (2 scaleP²) − ½.
 *
 * Computed as `½r² + ½d² − ½ − log r` with `r = scaleQ/scaleP` and
 * `d = (locQ − locP)/scaleP`, so no square of a large scale is formed before
 * the ratio; each half-square is `z·(½z)`, finite (with its gradient)
 * wherever the true one is (see `halfSquare`), and a tensor scaleP
 * divides through `safeDiv`. `log r` is `log scaleQ − log scaleP` for
 * a number scaleP (its log in double precision), and for a tensor scaleP
 * `log(r)` while r is a normal float32, the difference of the logs
 * otherwise: a ratio that underflows (scaleQ = 10⁻⁵, scaleP = 10³⁸) would
 * lose its digits or become 0 (`−log 0 = ∞`, gradient `1/r` = ∞ where the
 * true `−1/scaleQ` is −10⁵).
 */
export function normalKL(
    locQ: tf.Tensor, scaleQ: tf.Tensor, locP: tf.Tensor|number, scaleP: tf.Tensor|number): tf.Tensor {
  if (typeof locP === 'number' && typeof scaleP === 'number' && Number.isFinite(locP) && Math.abs(locP) < 1e30 &&
      scaleP >= FUSED_SCALE_RANGE[0] && scaleP <= FUSED_SCALE_RANGE[1] && posteriorKernels(locQ, scaleQ) !== null) {
    // The wasm backend: the value in one fused pass and both gradients in another, with the arithmetic below.
    return fusedNormalKL(locP, scaleP)(locQ, scaleQ);
  }
  return tf.tidy(() => {
    const r = scaledResidual(scaleQ, 0, scaleP);
    const d = scaledResidual(locQ, locP, scaleP);
    let logRatio: tf.Tensor;
    if (typeof scaleP === 'number') {
      // log scaleQ − log scaleP, the second in double precision: no ratio to underflow, one log.
      logRatio = tf.sub(tf.log(scaleQ), Math.log(scaleP));
    } else {
      // Both branches have finite gradients everywhere (the clip keeps log's argument
      // positive and finite): tf.where multiplies the unused branch's gradient by 0,
      // and 0·∞ is NaN. An r of ∞ keeps the first branch: log r is then 88.7
      // instead of its true value, but the KL is +∞ either way.
      logRatio = tf.where(
          tf.greaterEqual(r, FLOAT32_MIN_NORMAL), tf.log(tf.clipByValue(r, FLOAT32_MIN_NORMAL, FLOAT32_MAX)),
          tf.sub(tf.log(scaleQ), tf.log(scaleP)));
    }
    return tf.sub(tf.add(tf.sub(halfSquare(r), 0.5), halfSquare(d)), logRatio);
  });
}

/**
 * `normalKL` against number prior parameters (m, s) as one fused pass
 * (`src/perf/posterior_kernels.ts`), the operations of the tfjs path: with
 * c = 1/s, r = σc, d = (μ − m)c, `(r·(½r) − ½ + d·(½d)) − (log σ − log s)`;
 * gradients `dy·dc` for μ and `dy·rc − dy/σ` for σ.
 */
function fusedNormalKL(locP: number, scaleP: number): (locQ: tf.Tensor, scaleQ: tf.Tensor) => tf.Tensor {
  const c = 1 / scaleP;
  const logScaleP = Math.log(scaleP);
  return customGrad2((locQ: tf.Tensor, scaleQ: tf.Tensor, save: tf.GradSaveFunc) => {
    save([locQ, scaleQ]);
    const k = posteriorKernels(locQ, scaleQ);
    const value = k !== null ? k.normalKL(locQ, scaleQ, locP, c, logScaleP) : tf.tidy(() => {
      const r = tf.mul(scaleQ, c);
      const d = tf.mul(tf.sub(locQ, locP), c);
      return tf.sub(tf.add(tf.sub(halfSquare(r), 0.5), halfSquare(d)), tf.sub(tf.log(scaleQ), logScaleP));
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [mu, sigma] = saved;
        const kg = posteriorKernels(dy, mu, sigma);
        if (kg !== null) return kg.normalKLGrad(dy, mu, sigma, locP, c);
        return [tf.mul(dy, tf.mul(tf.mul(tf.sub(mu, locP), c), c)),
          tf.sub(tf.mul(dy, tf.mul(tf.mul(sigma, c), c)), tf.div(dy, sigma))];
      },
    };
  });
}

/**
 * A positive scale from an unconstrained parameter ρ:
 *
 *     σ = SCALE_FLOOR + softplus(ρ),   softplus(ρ) = log(1 + e^ρ).
 *
 * `tf.softplus` is evaluated stably (≈ e^ρ for ρ ≪ 0, ≈ ρ for ρ ≫ 0), so σ
 * and `dσ/dρ = sigmoid(ρ)` stay finite for every finite ρ.
 */
export function softplusScale(rho: tf.Tensor): tf.Tensor {
  // On the wasm backend one fused pass for σ and one for the gradient dσ·sigmoid(ρ) (tfjs: four).
  if (posteriorKernels(rho) !== null) return fusedSoftplusScale(rho);
  return tf.tidy(() => tf.add(tf.softplus(rho), SCALE_FLOOR));
}

const fusedSoftplusScale = tf.customGrad(((rho: tf.Tensor, save: tf.GradSaveFunc) => {
  save([rho]);
  const k = posteriorKernels(rho);
  const value = k !== null ? k.softplusScale(rho, SCALE_FLOOR) : tf.tidy(() => tf.add(tf.softplus(rho), SCALE_FLOOR));
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [x] = saved;
      const kg = posteriorKernels(dy, x);
      return [kg !== null ? kg.sigmoidMul(dy, x) : tf.mul(dy, tf.sigmoid(x))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (rho: tf.Tensor) => tf.Tensor;

/**
 * The ρ with `softplusScale(ρ) = scale`: `ρ = log(e^{scale − SCALE_FLOOR} − 1)`,
 * evaluated as `s + log(1 − e^{−s})` for large `s` (no overflow). Useful to
 * initialise a posterior at a chosen scale, e.g. `constant({value: inverseSoftplusScale(0.05)})`.
 */
export function inverseSoftplusScale(scale: number): number {
  if (!(scale > SCALE_FLOOR) || !Number.isFinite(scale)) {
    throw new Error(`inverseSoftplusScale: expected scale to be a finite number > ${SCALE_FLOOR}. Received: scale=${scale}`);
  }
  const s = scale - SCALE_FLOOR;
  return s > 20 ? s + Math.log1p(-Math.exp(-s)) : Math.log(Math.expm1(s));
}

/** `tf.customGrad` for a function of two tensors (its typing wants a variadic function). */
function customGrad2(
    f: (a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[]}):
    (a: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
}

/** `½(e^v − 1 − v)` below |v| = 0.1: its Taylor series to v⁷ (truncation below 10⁻¹⁰ relative). */
function halfExpm1MinusXSeries(v: tf.Tensor): tf.Tensor {
  let p: tf.Tensor = tf.scalar(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2]) p = tf.add(tf.mul(p, v), c);
  return tf.mul(tf.mul(tf.square(v), p), 0.5);
}

/**
 * `½(e^v − 1 − v)` with gradient `½(e^v − 1)`, both accurate over all of
 * float32: the naive form cancels to nothing near v = 0 (the value is ≈ v²/4
 * while `e^v` is rounded to 2⁻²⁴), so |v| < 0.1 uses the Taylor series and
 * 0.1 ≤ |v| ≤ 88 `½(expm1(v) − v)`; above 88 `e^{v − log 2} − ½(1 + v)`, since
 * `e^v` alone overflows from 88.7 while `½e^v` lasts to 89.4.
 */
const halfExpm1MinusX = tf.customGrad(((v: tf.Tensor, save: tf.GradSaveFunc) => {
  save([v]);
  const mid = tf.mul(0.5, tf.sub(tf.expm1(v), v));
  const large = tf.sub(tf.exp(tf.sub(v, Math.LN2)), tf.mul(0.5, tf.add(v, 1)));
  const value = tf.where(tf.less(tf.abs(v), 0.1), halfExpm1MinusXSeries(v), tf.where(tf.lessEqual(v, 88), mid, large));
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sv] = saved;
      const g = tf.where(tf.lessEqual(sv, 88), tf.mul(0.5, tf.expm1(sv)), tf.sub(tf.exp(tf.sub(sv, Math.LN2)), 0.5));
      return [tf.mul(dy, g)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (v: tf.Tensor) => tf.Tensor;

/**
 * `KL(N(mu, e^logVar) ‖ N(0, 1))`, element-wise,
 *
 *     kl = ½(e^logVar − 1 − logVar) + ½mu²,
 *
 * finite and accurate wherever the true value fits in float32: `½mu²` as
 * `mu·(½mu)` (mu² alone overflows from 1.8·10¹⁹; see `halfSquare`), and `½(e^v − 1 − v)` by a
 * custom gradient that is exact near v = 0 (series), uses expm1 in the middle
 * and `e^{v − log 2}` above v = 88 (see `halfExpm1MinusX`). +∞ (never NaN)
 * where the true value overflows, e.g. logVar = 1000.
 * A drop-in body for the KL layer's `gaussianKLElementwise`.
 */
export function standardNormalKL(mu: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(halfExpm1MinusX(logVar), halfSquare(mu)));
}

/** Up to here `e^{v/2}` is a normal float32 (at most e⁸⁵ ≈ 8·10³⁶). */
const DIRECT_HALF_LOG_VARIANCE_LIMIT = 170;

/**
 * `e^{v/2}·eps` with gradients `∂/∂v = ½·e^{v/2}·eps`, `∂/∂eps = e^{v/2}`.
 * For v ≤ 170 the direct product; beyond, `±exp(v/2 + log|eps|)`:
 * `e^{v/2}` alone is ∞ from v = 177.4, and `∞·0` a NaN at eps = 0, while the
 * true product is 0 there (and e.g. 1.2·10⁹ for v = 180, eps = 10⁻³⁰).
 */
const expHalfTimes = customGrad2((v: tf.Tensor, eps: tf.Tensor, save: tf.GradSaveFunc) => {
  const direct = tf.mul(tf.exp(tf.mul(0.5, v)), eps);
  const magnitude = tf.exp(tf.add(tf.mul(0.5, v), tf.log(tf.abs(eps))));
  // The sign by comparison: the wasm backend's Sign kernel returns 0 for |eps| below about 1e-7.
  const logSpace = tf.where(tf.less(eps, 0), tf.neg(magnitude), magnitude);
  const value = tf.where(tf.lessEqual(v, DIRECT_HALF_LOG_VARIANCE_LIMIT), direct, logSpace);
  save([v, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sv, sValue] = saved;
      return [tf.mul(dy, tf.mul(0.5, sValue)), tf.mul(dy, tf.exp(tf.mul(0.5, sv)))];
    },
  };
});

/**
 * The reparameterized sample `mu + e^{logVar/2}·eps`, finite wherever the
 * true value is (see `expHalfTimes`): at logVar = 1000 and eps = 0 it is mu
 * (the naive product is `∞·0 = NaN`), with `∂/∂logVar = 0`; +∞ where the
 * sample truly overflows. A drop-in body for `reparameterizeWithNoise`.
 */
export function sampleFromLogVariance(mu: tf.Tensor, logVar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [v, e] = broadcastPair(logVar, eps);
    return tf.add(mu, expHalfTimes(v, e));
  });
}
