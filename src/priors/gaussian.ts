/**
 * The Gaussian weight prior `p(w) = Π_i N(w_i; loc, scale²)`, with the
 * closed-form KL divergence from a mean-field normal posterior.
 */
import * as tf from '@tensorflow/tfjs-core';

import {kl} from '../distributions/kl';
import {Normal} from '../distributions/normal_distribution';
import {checkFiniteNumber, checkKnownOptions, checkPositive} from '../util/validate';
import {Prior, registerBuiltinPrior} from './prior';

export interface GaussianPriorArgs {
  /** Mean of every weight. Default 0. */
  loc?: number;
  /** Standard deviation of every weight, > 0. Default 1. */
  scale?: number;
}

/**
 * `p(w) = Π_i N(w_i; loc, scale²)` (default `N(0, 1)`). Its divergence from a
 * mean-field normal posterior `q = Π_i N(μ_i, σ_i²)` is exact:
 *
 *     KL(q ‖ p) = Σ_i [ log(scale/σ_i) + (σ_i² + (μ_i − loc)²) / (2 scale²) − ½ ].
 *
 * The prior of TFP's `tfp.layers.Dense*` layers (`default_multivariate_normal_fn`)
 * and of Blundell et al. 2015 (arXiv:1505.05424) before their mixture.
 */
export class GaussianPrior extends Prior {
  /** @nocollapse */
  static className = 'GaussianPrior';

  readonly loc: number;
  readonly scale: number;

  constructor(args: GaussianPriorArgs = {}) {
    super();
    const where = 'gaussianPrior';
    checkKnownOptions(where, args, ['loc', 'scale']);
    this.loc = args.loc === undefined ? 0 : checkFiniteNumber(where, 'loc', args.loc);
    this.scale = args.scale === undefined ? 1 : checkPositive(where, 'scale', args.scale);
  }

  /** The prior of one weight as a distribution of the core: `N(loc, scale²)`. */
  distribution(): Normal {
    return new Normal({loc: this.loc, scale: this.scale});
  }

  /** `log N(w; loc, scale²)` element-wise (the `Normal` distribution's `logProb`: `normalLogProb`). */
  override logProb(w: tf.Tensor): tf.Tensor {
    return this.distribution().logProb(w);
  }

  /** `KL(N(loc_i, scale_i²) ‖ N(this.loc, this.scale²))` element-wise: the registered Normal‖Normal closed form (`normalKL`). */
  override analyticKL(loc: tf.Tensor, scale: tf.Tensor): tf.Tensor {
    return kl(new Normal({loc, scale}), this.distribution());
  }

  override get hasAnalyticKL(): boolean {
    return true;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {loc: this.loc, scale: this.scale};
  }
}
registerBuiltinPrior('gaussian', GaussianPrior);

/**
 * The prior `N(loc, scale²)` on every weight (default `N(0, 1)`), with an
 * exact KL divergence.
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000, prior: tfv.priors.gaussian({scale: 0.5})});
 * ```
 */
export function gaussian(args?: GaussianPriorArgs): GaussianPrior {
  return new GaussianPrior(args);
}
