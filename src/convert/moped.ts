/**
 * MOPED initialisation of a mean-field Gaussian posterior from trained
 * deterministic weights (Krishnan, Subedar & Tickoo 2020, "Specifying weight
 * priors in Bayesian deep neural networks with empirical Bayes",
 * arXiv:1906.05323): the posterior means are the trained weights and each
 * standard deviation is a fraction δ of its weight's magnitude,
 *
 *     μ = w,   σ = max(δ·|w|, MOPED_MIN_SCALE).
 *
 * bayesian-torch's `dnn_to_bnn` with `moped_enable` does the same (its
 * `get_rho` returns `log(expm1(δ|w|) + 1e-20)`, so `softplus(ρ) = δ|w|` and a
 * zero weight gets σ ≈ 1e-20). Our layers parameterise `σ = 1e-5 + softplus(ρ)`
 * (`softplusScale`), so σ cannot go below 1e-5: a weight with δ|w| below
 * `MOPED_MIN_SCALE` (2·10⁻⁵) gets that σ instead, small and positive.
 */
import * as tf from '@tensorflow/tfjs-core';

import {SCALE_FLOOR} from '../distributions/normal';

/** The smallest σ MOPED gives a weight: twice the scale floor of `softplusScale` (ρ = softplus⁻¹(10⁻⁵) ≈ −11.5). */
export const MOPED_MIN_SCALE = 2 * SCALE_FLOOR;

/** The default δ, the value of the MOPED paper's experiments. */
export const DEFAULT_MOPED_DELTA = 0.1;

/**
 * ρ such that `SCALE_FLOOR + softplus(ρ) = max(δ·|w|, MOPED_MIN_SCALE)`,
 * element-wise, a new tensor of `w`'s shape:
 *
 *     s = max(δ|w|, MOPED_MIN_SCALE) − SCALE_FLOOR  (≥ 10⁻⁵),
 *     ρ = softplus⁻¹(s) = log(expm1(s))   for s ≤ 20,
 *                       = s               for s > 20.
 *
 * `expm1` keeps the small-s branch accurate (log(e^s − 1) would lose all
 * digits of s = 10⁻⁵ in float32). Above 20 the exact value
 * `s + log(1 − e^{−s})` differs from s by less than e^{−20} = 2·10⁻⁹, below
 * float32's resolution there (ulp(20) = 1.9·10⁻⁶), and expm1 would overflow
 * past s ≈ 88. The result is float32 to a few ulps.
 */
export function mopedUntransformedScale(w: tf.Tensor, delta: number): tf.Tensor {
  return tf.tidy(() => {
    const target = tf.maximum(tf.mul(tf.abs(w), delta), MOPED_MIN_SCALE);
    const s = tf.sub(target, SCALE_FLOOR);
    return tf.where(tf.greater(s, 20), s, tf.log(tf.expm1(tf.minimum(s, 20))));
  });
}
