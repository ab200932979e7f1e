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

/**
 * `log N(x; loc, scale²) = −½ ((x − loc)/scale)² − log scale − ½ log 2π`.
 * `loc` and `scale` may be tensors or numbers; `scale > 0`.
 */
export function normalLogProb(x: tf.Tensor, loc: tf.Tensor|number, scale: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.div(tf.sub(x, loc), scale);
    const logScale = typeof scale === 'number' ? Math.log(scale) : tf.log(scale);
    return tf.sub(tf.sub(tf.mul(-0.5, tf.square(z)), logScale), HALF_LOG_TWO_PI);
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
  return tf.tidy(() => tf.sub(tf.sub(tf.mul(-0.5, tf.square(eps)), tf.log(scale)), HALF_LOG_TWO_PI));
}

/**
 * `KL(N(locQ, scaleQ²) ‖ N(locP, scaleP²))`, element-wise:
 *
 *     log(scaleP/scaleQ) + (scaleQ² + (locQ − locP)²) / (2 scaleP²) − ½.
 *
 * Computed as `½ (r² + d²) − ½ − log r` with `r = scaleQ/scaleP` and
 * `d = (locQ − locP)/scaleP`, so no square of a large scale is formed before
 * the ratio.
 */
export function normalKL(
    locQ: tf.Tensor, scaleQ: tf.Tensor, locP: tf.Tensor|number, scaleP: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const r = tf.div(scaleQ, scaleP);
    const d = tf.div(tf.sub(locQ, locP), scaleP);
    return tf.sub(tf.sub(tf.mul(0.5, tf.add(tf.square(r), tf.square(d))), 0.5), tf.log(r));
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
