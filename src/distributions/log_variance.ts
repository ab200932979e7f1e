/**
 * The normal density parameterized by its log-variance v = log σ²
 * (a VAE's encoder and a learned-variance decoder output v, not σ):
 * the negative log-density and the log-density at a reparameterized sample,
 * accurate for every float32 v (`e^{±v}` and `e^{±v/2}` are never formed
 * where they overflow). The sample itself and the KL from N(0, 1) are
 * `sampleFromLogVariance` and `standardNormalKL` in `normal.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';

import {broadcastPair, HALF_LOG_TWO_PI, halfSquare} from './normal';

/**
 * `|v| ≤ 170`: both `e^{−v/2}` and `e^{v/2}` (at most e⁸⁵ ≈ 8·10³⁶) are normal
 * float32 numbers, so the direct products below neither overflow in an
 * intermediate nor lose digits to subnormals; outside it the log-space forms
 * are used.
 */
const DIRECT_LOG_VARIANCE_LIMIT = 170;

/**
 * `½·d²·e^{−v}` with its exact gradient, `∂/∂d = d·e^{−v}` and
 * `∂/∂v = −½·d²·e^{−v}`, for d and v of one shape.
 *
 * For |v| ≤ 170 the value is `½t²` with `t = d·e^{−v/2}` (`e^{−v/2}` is a
 * normal float32 there, and t overflows only where the result does), and
 * the d-gradient `t·e^{−v/2}` (for v ≤ 0 the partial product t is at most
 * the result, for v > 0 at most d, so nothing overflows early). Beyond, in
 * log space with `u = log|d| − v/2 = log|t|`: the value `exp(2u − log 2)`
 * and the d-gradient `±exp(u − v/2)`. At v = −180, `e^{90}` alone is ∞ in
 * float32 and `0·∞` a NaN at d = 0, while the log-space forms give
 * `exp(−∞) = 0` there, and the exact value wherever it fits in float32 (the
 * exponent is rounded once, a relative error of about (|v| + |log|d||)·2⁻²⁴,
 * the sensitivity of e^{−v} to v's own float32 rounding). Both branches
 * share `e^{−v/2}`, `v/2` and `log|d|` with the gradient.
 *
 * A custom gradient because autodiff through the log-space branch gives
 * `e^{…}/|d|`, `0·∞` at d = 0, and `tf.where` passes a branch's NaN on even
 * where it selects the other.
 */
const halfQuadratic = tf.customGrad(((d: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
  const halfV = tf.mul(v, -0.5);  // −v/2
  const e = tf.exp(halfV);  // e^{−v/2}
  const t = tf.mul(d, e);
  const u = tf.add(tf.log(tf.abs(d)), halfV);  // log|t|, −∞ at d = 0
  const direct = tf.lessEqual(tf.abs(v), DIRECT_LOG_VARIANCE_LIMIT);
  const value = tf.where(direct, tf.mul(t, tf.mul(t, 0.5)), tf.exp(tf.sub(tf.add(u, u), Math.LN2)));
  save([d, e, t, u, halfV, direct, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sd, se, st, su, sHalfV, sDirect, sValue] = saved;
      const magnitude = tf.exp(tf.add(su, sHalfV));  // |d|·e^{−v}
      // The sign by comparison: the wasm backend's Sign kernel returns 0 for |d| below about 1e-7.
      const logSpace = tf.where(tf.less(sd, 0), tf.neg(magnitude), magnitude);
      return [tf.mul(dy, tf.where(sDirect, tf.mul(st, se), logSpace)), tf.neg(tf.mul(dy, sValue))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (d: tf.Tensor, v: tf.Tensor) => tf.Tensor;

/**
 * `−log N(x; loc, e^v)`, element-wise, for the log-variance v = log σ²:
 *
 *     ½·(x − loc)²·e^{−v} + ½·v + ½·log 2π
 *     ∂/∂loc = −(x − loc)·e^{−v},   ∂/∂v = ½ − ½·(x − loc)²·e^{−v}
 *
 * The quadratic term and its gradient come from a custom gradient that
 * never forms an intermediate beyond float32's range (see `halfQuadratic`):
 * finite and accurate wherever the true values fit in float32 — for every v
 * at x = loc (e.g. v = −1000 gives −499.08, `∂/∂v = ½`); ±∞ beyond, never
 * NaN. The learned-variance Gaussian NLL of `tfv.losses` is this function.
 */
export function normalNegLogProbFromLogVariance(x: tf.Tensor, loc: tf.Tensor|number, logVar: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [d, v] = broadcastPair(loc === 0 ? x : tf.sub(x, loc), logVar);
    // ½v + ½ log 2π equals ½(v + log 2π) bit for bit: halving is exact in binary.
    return tf.add(halfQuadratic(d, v), tf.add(tf.mul(v, 0.5), HALF_LOG_TWO_PI));
  });
}

/**
 * `log N(x; loc, e^v)` at the reparameterized sample `x = loc + e^{v/2}·eps`,
 * written through the noise, `−½eps² − ½v − ½ log 2π` (the log-variance
 * twin of `normalLogProbOfNoise`: no `(x − loc)/σ` to recompute, and no
 * `e^{v/2}` to overflow).
 */
export function normalLogProbOfNoiseFromLogVariance(eps: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.sub(tf.neg(halfSquare(eps)), tf.mul(logVar, 0.5)), HALF_LOG_TWO_PI));
}
