/**
 * The scale-mixture weight prior of Bayes by Backprop (Blundell et al. 2015):
 * two zero-mean Gaussians, one wide and one narrow.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalLogProb} from '../distributions/normal';
import {argumentError, checkFiniteNumber} from '../util/validate';
import {checkPositive} from '../util/validate';
import {Prior, registerPrior} from './prior';

export interface ScaleMixturePriorArgs {
  /** Weight π of the first component, 0 < π < 1. Default 0.5. */
  pi?: number;
  /** Standard deviation σ₁ of the first (wide) component, > 0. Default 1 (= e⁰). */
  scale1?: number;
  /** Standard deviation σ₂ of the second (narrow) component, > 0. Default e⁻⁶ ≈ 0.00248. */
  scale2?: number;
}

/**
 * `p(w) = Π_i [ π N(w_i; 0, σ₁²) + (1 − π) N(w_i; 0, σ₂²) ]`
 * (Blundell et al. 2015, arXiv:1505.05424, eq. 7; their grid searched
 * π ∈ {¼, ½, ¾}, −log σ₁ ∈ {0, 1, 2}, −log σ₂ ∈ {6, 7, 8}; the defaults are
 * π = ½, σ₁ = 1, σ₂ = e⁻⁶). The narrow component concentrates many weights
 * near zero, the wide one leaves room for large weights.
 *
 * The density is evaluated in log space,
 *
 *     log p(w_i) = logsumexp( log π + log N(w_i; 0, σ₁²),  log(1 − π) + log N(w_i; 0, σ₂²) ),
 *
 * so a weight far in the tails of the narrow component (density below
 * float32's range) still has a finite log-density and gradient. The KL
 * divergence has no closed form: layers use the Monte Carlo estimate
 * `log q(w) − log p(w)` at their sampled weights (see `Prior.divergence`).
 */
export class ScaleMixturePrior extends Prior {
  /** @nocollapse */
  static className = 'ScaleMixturePrior';

  readonly pi: number;
  readonly scale1: number;
  readonly scale2: number;

  constructor(args: ScaleMixturePriorArgs = {}) {
    super();
    const where = 'scaleMixturePrior';
    this.pi = args.pi === undefined ? 0.5 : checkFiniteNumber(where, 'pi', args.pi);
    if (!(this.pi > 0 && this.pi < 1)) {
      throw argumentError(where, 'pi', 'a number strictly between 0 and 1', args.pi);
    }
    this.scale1 = args.scale1 === undefined ? 1 : checkPositive(where, 'scale1', args.scale1);
    this.scale2 = args.scale2 === undefined ? Math.exp(-6) : checkPositive(where, 'scale2', args.scale2);
  }

  override logProb(w: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const a = tf.add(normalLogProb(w, 0, this.scale1), Math.log(this.pi));
      const b = tf.add(normalLogProb(w, 0, this.scale2), Math.log1p(-this.pi));
      // logsumexp over the two components: max + log Σ e^{· − max}, exact gradients at ties too.
      return tf.logSumExp(tf.stack([a, b]), 0);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {pi: this.pi, scale1: this.scale1, scale2: this.scale2};
  }
}
registerPrior('scaleMixture', ScaleMixturePrior);

/**
 * The prior `π N(0, σ₁²) + (1 − π) N(0, σ₂²)` on every weight (Bayes by
 * Backprop); its divergence is estimated by Monte Carlo.
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000,
 *   prior: tfv.priors.scaleMixture({pi: 0.25, scale1: 1, scale2: Math.exp(-7)})});
 * ```
 */
export function scaleMixture(args?: ScaleMixturePriorArgs): ScaleMixturePrior {
  return new ScaleMixturePrior(args);
}
