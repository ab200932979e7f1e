/**
 * The empirical-Bayes Gaussian weight prior: `N(m, s²)` whose scale s (and
 * optionally mean m) is learned with the posterior, one per bound tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {inverseSoftplusScale, SCALE_FLOOR, softplusScale} from '../distributions/normal';
import {Normal} from '../distributions/normal_distribution';
import {argumentError, checkBoolean, checkFiniteNumber, checkKnownOptions} from '../util/validate';
import {LayerGaussianPrior} from './layer_gaussian_prior';
import {PriorContext, registerBuiltinPrior} from './prior';

export interface EmpiricalBayesPriorArgs {
  /** The prior scale s at the start of training, > 10⁻⁵. Default 1. */
  initialScale?: number;
  /** The prior mean m: fixed, or its initial value with `learnLoc`. Default 0. */
  initialLoc?: number;
  /** Whether the mean m is learned too (else it stays `initialLoc`). Default false. */
  learnLoc?: boolean;
}

/**
 * A Gaussian prior with learned hyper-parameters (type-II maximum
 * likelihood of the ELBO, "empirical Bayes"; e.g. Wu et al. 2019,
 * "Deterministic variational inference for robust Bayesian neural
 * networks", arXiv:1810.03958): on each weight tensor it binds to,
 *
 *     p(w) = Π_i N(w_i; m, s²),   s = 10⁻⁵ + softplus(ρ_p),
 *
 * where ρ_p (and m, with `learnLoc`) is a trainable scalar weight of the
 * layer, added by `bind` through `context.addWeight` (`<role>_prior_untransformed_scale`,
 * `<role>_prior_loc`): each layer, and each of its tensors, has its own. The
 * divergence is exact,
 *
 *     KL(q ‖ p) = Σ_i [ log(s/σ_i) + (σ_i² + (μ_i − m)²) / (2s²) − ½ ],
 *
 * and its gradient reaches s (and m): for fixed q it is minimised at
 * s² = mean_i(σ_i² + (μ_i − m)²), the weights' second moment under q.
 * The prior has no density before it is bound (its scale is a weight).
 */
export class EmpiricalBayesPrior extends LayerGaussianPrior {
  /** @nocollapse */
  static className = 'EmpiricalBayesPrior';

  readonly initialScale: number;
  readonly initialLoc: number;
  readonly learnLoc: boolean;

  constructor(args: EmpiricalBayesPriorArgs = {}) {
    super();
    const where = 'empiricalBayesPrior';
    checkKnownOptions(where, args, ['initialScale', 'initialLoc', 'learnLoc']);
    const s = args.initialScale === undefined ? 1 : checkFiniteNumber(where, 'initialScale', args.initialScale);
    if (!(s > SCALE_FLOOR)) throw argumentError(where, 'initialScale', `a number > ${SCALE_FLOOR}`, args.initialScale);
    this.initialScale = s;
    this.initialLoc = args.initialLoc === undefined ? 0 : checkFiniteNumber(where, 'initialLoc', args.initialLoc);
    this.learnLoc = args.learnLoc === undefined ? false : checkBoolean(where, 'learnLoc', args.learnLoc);
  }

  protected readonly layerParameters = 'scale is';

  /** Adds the tensor's prior scale `<role>_prior_untransformed_scale` (and mean `<role>_prior_loc`) to the layer. */
  protected override bindNormal(c: PriorContext): () => Normal {
    const rho = c.addWeight('prior_untransformed_scale', [], tfl.initializers.constant({value: inverseSoftplusScale(this.initialScale)}), true);
    const m = this.learnLoc ? c.addWeight('prior_loc', [], tfl.initializers.constant({value: this.initialLoc}), true) : null;
    return () => new Normal({loc: m === null ? this.initialLoc : m.read(), scale: softplusScale(rho.read())});
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {initialScale: this.initialScale, initialLoc: this.initialLoc, learnLoc: this.learnLoc};
  }
}
registerBuiltinPrior('empiricalBayes', EmpiricalBayesPrior);

/**
 * A Gaussian prior `N(m, s²)` whose scale s (and with `learnLoc` the mean m)
 * is learned per weight tensor with the posterior (empirical Bayes); exact KL.
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000, prior: tfv.priors.empiricalBayes({initialScale: 0.1})});
 * ```
 */
export function empiricalBayes(args?: EmpiricalBayesPriorArgs): EmpiricalBayesPrior {
  return new EmpiricalBayesPrior(args);
}
