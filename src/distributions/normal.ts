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

/** ½ log 2π. */
export const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/**
 * The smallest scale `softplusScale` returns: σ = SCALE_FLOOR + softplus(ρ).
 * It keeps `log σ` and `1/σ` finite when ρ is very negative (softplus(−50)
 * ≈ 2·10⁻²² would make `log σ` ≈ −50 and a KL gradient ≈ 10²²).
 */
export const SCALE_FLOOR = 1e-5;

/** √½: `½ a² = (a·√½)²`, and `a·√½` overflows float32 only where `½ a²` does. */
const SQRT_HALF = Math.SQRT1_2;
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

/**
 * `(x − loc)·√½ / scale`, so that its square is `½((x − loc)/scale)²`: the √½
 * is applied before the division so the square overflows only where the true
 * half-square does (squaring `(x − loc)/scale` first overflows from 1.8·10¹⁹,
 * halving afterwards cannot bring it back). A number `scale` is applied as
 * one double-precision factor (see {@link mulByPositiveConstant}).
 */
function halfScaledResidual(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.sub(x, loc);
    return typeof scale === 'number' ? mulByPositiveConstant(d, SQRT_HALF / scale) : tf.div(tf.mul(d, SQRT_HALF), scale);
  });
}

/**
 * `log N(x; loc, scale²) = −½ ((x − loc)/scale)² − log scale − ½ log 2π`.
 * `loc` and `scale` may be tensors or numbers; `scale > 0`.
 */
export function normalLogProb(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    // −½z² as −(z·√½)²: finite wherever the true value is (see halfScaledResidual).
    const halfZ2 = tf.square(halfScaledResidual(x, loc, scale));
    // A number scale: its log in double precision (exact for scales float32 cannot hold).
    const logScale = typeof scale === 'number' ? Math.log(scale) : tf.log(scale);
    return tf.sub(tf.sub(tf.neg(halfZ2), logScale), HALF_LOG_TWO_PI);
  });
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
export function normalLogProbOfNoise(eps: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  // −½eps² as −(eps·√½)²: overflows only where the true value does.
  return tf.tidy(() => tf.sub(tf.sub(tf.neg(tf.square(tf.mul(eps, SQRT_HALF))), tf.log(scale)), HALF_LOG_TWO_PI));
}

/**
 * `KL(N(locQ, scaleQ²) ‖ N(locP, scaleP²))`, element-wise:
 *
 *     log(scaleP/scaleQ) + (scaleQ² + (locQ − locP)²) / (2 scaleP²) − ½.
 *
 * Computed as `(r√½)² + (d√½)² − ½ − log r` with `r = scaleQ/scaleP` and
 * `d = (locQ − locP)/scaleP`, so no square of a large scale is formed before
 * the ratio, and a square overflows only where the KL does. `log r` is
 * `log(r)` while r is a normal float32, and `log scaleQ − log scaleP`
 * otherwise: a ratio that underflows (scaleQ = 10⁻⁵, scaleP = 10³⁸) would
 * lose its digits or become 0 (`−log 0 = ∞`, gradient `1/r` = ∞ where the
 * true `−1/scaleQ` is −10⁵), and one that overflows would give `∞ − ∞`.
 */
export function normalKL(
    locQ: tf.Tensor, scaleQ: tf.Tensor, locP: tf.Tensor|number, scaleP: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const rHalf = halfScaledResidual(scaleQ, 0, scaleP);  // r·√½
    const dHalf = halfScaledResidual(locQ, locP, scaleP);  // d·√½
    const logScaleP = typeof scaleP === 'number' ? Math.log(scaleP) : tf.log(scaleP);
    // Both branches have finite gradients everywhere (the clip keeps log's argument
    // positive and finite): tf.where multiplies the unused branch's gradient by 0,
    // and 0·∞ is NaN. An r·√½ of ∞ keeps the first branch: log r is then
    // 88.7 instead of its true value, but the KL is +∞ either way.
    const logRatio = tf.where(
        tf.greaterEqual(rHalf, FLOAT32_MIN_NORMAL),
        tf.sub(tf.log(tf.clipByValue(rHalf, FLOAT32_MIN_NORMAL, FLOAT32_MAX)), Math.log(SQRT_HALF)),
        tf.sub(tf.log(scaleQ), logScaleP));
    return tf.sub(tf.add(tf.sub(tf.square(rHalf), 0.5), tf.square(dHalf)), logRatio);
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
  return tf.tidy(() => tf.add(tf.softplus(rho), SCALE_FLOOR));
}

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
