/**
 * The prior `p(z)` of a Gaussian latent, as the per-sample log-weights of
 * multi-sample bounds need it: `log p(z)` summed over the event axes (every
 * axis but the first), one value per row of z.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI, halfSquare} from '../distributions/normal';

export interface LatentPrior {
  /** `log p(z_r)` for each row r of `z` `[rows, ...event]`: a `[rows]` tensor. */
  logProb(z: tf.Tensor): tf.Tensor;
}

/** Sums a `[rows, ...event]` tensor over its event axes. */
export function sumEvent(x: tf.Tensor): tf.Tensor {
  return x.rank <= 1 ? x : tf.sum(x, Array.from({length: x.rank - 1}, (_, i) => i + 1));
}

/** N(0, I): `log p(z) = Σ_d −½ z_d² − ½ log 2π`. */
export const STANDARD_NORMAL: LatentPrior = {
  logProb: (z) => tf.tidy(() => sumEvent(tf.sub(tf.neg(halfSquare(z)), HALF_LOG_TWO_PI))),
};
