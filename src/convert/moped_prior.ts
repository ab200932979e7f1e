/**
 * MOPED's empirical-Bayes prior: a Gaussian centred, weight by weight, on
 * the trained deterministic weights (Krishnan, Subedar & Tickoo 2020,
 * arXiv:1906.05323; bayesian-torch's `MOPED` sets `prior_weight_mu` to the
 * trained weights the same way).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {Normal} from '../distributions/normal_distribution';
import {LayerGaussianPrior} from '../priors/layer_gaussian_prior';
import {PriorContext, registerBuiltinPrior} from '../priors/prior';
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
export class MopedPrior extends LayerGaussianPrior {
  /** @nocollapse */
  static className = 'MopedPrior';

  readonly scale: number;

  constructor(args: MopedPriorArgs = {}) {
    super();
    const where = 'mopedPrior';
    checkKnownOptions(where, args, ['scale']);
    this.scale = args.scale === undefined ? 1 : checkPositive(where, 'scale', args.scale);
  }

  protected readonly layerParameters = 'centres are';

  /** Adds the tensor's centres `<role>_prior_loc` (non-trainable, zeros) to the layer. */
  protected override bindNormal(c: PriorContext): () => Normal {
    const centre = c.addWeight('prior_loc', c.shape, tfl.initializers.zeros(), false);
    return () => new Normal({loc: centre.read(), scale: this.scale});
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {scale: this.scale};
  }
}
registerBuiltinPrior('moped', MopedPrior);
