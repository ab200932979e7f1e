/**
 * MOPED's empirical-Bayes prior: a Gaussian centred, weight by weight, on
 * the trained deterministic weights (Krishnan, Subedar & Tickoo 2020,
 * arXiv:1906.05323; bayesian-torch's `MOPED` sets `prior_weight_mu` to the
 * trained weights the same way).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {kl} from '../distributions/kl';
import {Normal} from '../distributions/normal_distribution';
import {BoundPrior, checkPriorContext, divergenceOf, Prior, PriorContext, registerBuiltinPrior} from '../priors/prior';
import {checkKnownOptions, checkPositive} from '../util/validate';

export interface MopedPriorArgs {
  /** The prior's standard deviation s around each centre, > 0. Default 1. */
  scale?: number;
}

/**
 * On each weight tensor it is bound to,
 *
 *     p(w) = Π_i N(w_i; m_i, s²),
 *
 * where the centres `m` are a non-trainable weight of the layer,
 * `<role>_prior_loc` (`kernel_prior_loc`, `bias_prior_loc`), of the tensor's
 * shape: zeros when the layer is built, the trained weights once
 * `tfv.variationalize(model, {centerPrior: true})` has set them. Being a
 * weight, the centres are saved and loaded with the model, and training
 * leaves them alone. The divergence is exact,
 *
 *     KL(q ‖ p) = Σ_i [ log(s/σ_i) + (σ_i² + (μ_i − m_i)²) / (2s²) − ½ ].
 *
 * Unbound, the prior has no density (its centres belong to a layer).
 */
export class MopedPrior extends Prior {
  /** @nocollapse */
  static className = 'MopedPrior';

  readonly scale: number;

  constructor(args: MopedPriorArgs = {}) {
    super();
    const where = 'mopedPrior';
    checkKnownOptions(where, args, ['scale']);
    this.scale = args.scale === undefined ? 1 : checkPositive(where, 'scale', args.scale);
  }

  override logProb(_w: tf.Tensor): tf.Tensor {
    throw this.unbound('logProb');
  }

  override analyticKL(_loc: tf.Tensor, _scale: tf.Tensor): tf.Tensor {
    throw this.unbound('analyticKL');
  }

  override get hasAnalyticKL(): boolean {
    return true;
  }

  /** Adds the tensor's centres `<role>_prior_loc` (non-trainable, zeros) to the layer; the divergence is the closed form. */
  override bind(context: PriorContext): BoundPrior {
    const c = checkPriorContext('MopedPrior.bind', context);
    const centre = c.addWeight('prior_loc', c.shape, tfl.initializers.zeros(), false);
    const prior = () => new Normal({loc: centre.read(), scale: this.scale});
    return {
      hasAnalyticKL: true,
      divergence: (loc, scale, noise) => divergenceOf({
        analyticKL: (l, s) => kl(new Normal({loc: l, scale: s}), prior()),
        logProbSum: (w) => tf.tidy(() => tf.sum(prior().logProb(w))),
        mcSamples: 1,
      }, loc, scale, noise),
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {scale: this.scale};
  }

  private unbound(method: string): Error {
    return new Error(`MopedPrior.${method}: the prior's centres are a weight of the layer it is bound to; ` +
        'bind it to a weight tensor first (Bayesian layers do when they build)');
  }
}
registerBuiltinPrior('moped', MopedPrior);
