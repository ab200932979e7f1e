/**
 * The Gaussian weight prior `p(w) = Π_i N(w_i; loc, scale²)`, with the
 * closed-form KL divergence from a mean-field normal posterior.
 */
import * as tf from '@tensorflow/tfjs-core';

import {kl} from '../distributions/kl';
import {Normal} from '../distributions/normal_distribution';
import {argumentError, checkBoolean, checkFiniteNumber, checkKnownOptions, checkPositive} from '../util/validate';
import {BoundPrior, checkPriorContext, divergenceOf, Prior, PriorContext, registerBuiltinPrior} from './prior';

export interface GaussianPriorArgs {
  /** Mean of every weight. Default 0. */
  loc?: number;
  /**
   * Standard deviation of every weight, > 0 (with `scaleByFanIn`, the
   * numerator of `scale/√fanIn`). Default 1.
   */
  scale?: number;
  /**
   * pyvarinf's default prior: the standard deviation of a bound tensor of
   * rank ≥ 2 (a kernel) is `scale/√fanIn`, with fanIn the inputs summed per
   * output unit (dense: inputDim; conv: kh·kw·inChannels); a rank-1 tensor
   * (a bias) has `biasScale`. Default false.
   */
  scaleByFanIn?: boolean;
  /** With `scaleByFanIn`: the standard deviation of rank-1 tensors (biases), > 0. Default 0.01 (pyvarinf's). */
  biasScale?: number;
}

/**
 * `p(w) = Π_i N(w_i; loc, scale²)` (default `N(0, 1)`). Its divergence from a
 * mean-field normal posterior `q = Π_i N(μ_i, σ_i²)` is exact:
 *
 *     KL(q ‖ p) = Σ_i [ log(scale/σ_i) + (σ_i² + (μ_i − loc)²) / (2 scale²) − ½ ].
 *
 * The prior of TFP's `tfp.layers.Dense*` layers (`default_multivariate_normal_fn`)
 * and of Blundell et al. 2015 (arXiv:1505.05424) before their mixture.
 *
 * With `scaleByFanIn: true` the scale depends on the tensor the prior is
 * bound to, as in pyvarinf's default Gaussian prior (`prior_std` in
 * ctallec/pyvarinf, pyvarinf/vi.py: `1/√(Π of the dimensions after the
 * first)` — the fan-in of a PyTorch weight — for a parameter of rank ≥ 2,
 * and 10⁻² for a rank-1 parameter): a kernel's standard deviation is
 * `scale/√fanIn` (so `scale = 1` is pyvarinf's), a bias's `biasScale`
 * (default 10⁻², pyvarinf's). Such a prior must be bound (`bind`, which
 * layers do) before it has a density or a divergence.
 */
export class GaussianPrior extends Prior {
  /** @nocollapse */
  static className = 'GaussianPrior';

  readonly loc: number;
  readonly scale: number;
  readonly scaleByFanIn: boolean;
  readonly biasScale: number;

  constructor(args: GaussianPriorArgs = {}) {
    super();
    const where = 'gaussianPrior';
    checkKnownOptions(where, args, ['loc', 'scale', 'scaleByFanIn', 'biasScale']);
    this.loc = args.loc === undefined ? 0 : checkFiniteNumber(where, 'loc', args.loc);
    this.scale = args.scale === undefined ? 1 : checkPositive(where, 'scale', args.scale);
    this.scaleByFanIn = args.scaleByFanIn === undefined ? false : checkBoolean(where, 'scaleByFanIn', args.scaleByFanIn);
    if (args.biasScale !== undefined && !this.scaleByFanIn) {
      throw argumentError(where, 'biasScale', 'given only with scaleByFanIn: true', args.biasScale);
    }
    this.biasScale = args.biasScale === undefined ? 0.01 : checkPositive(where, 'biasScale', args.biasScale);
  }

  /**
   * The standard deviation of the weights of a tensor of `shape` with
   * `fanIn` inputs per unit: `scale`, or with `scaleByFanIn` `scale/√fanIn`
   * (rank ≥ 2) or `biasScale` (rank 1).
   */
  scaleFor(shape: number[], fanIn: number): number {
    if (!this.scaleByFanIn) return this.scale;
    return shape.length >= 2 ? this.scale / Math.sqrt(fanIn) : this.biasScale;
  }

  /** The prior of one weight as a distribution of the core: `N(loc, scale²)` (unbound; see `scaleByFanIn`). */
  distribution(): Normal {
    return new Normal({loc: this.loc, scale: this.fixedScale('distribution')});
  }

  /** `log N(w; loc, scale²)` element-wise (the `Normal` distribution's `logProb`: `normalLogProb`). */
  override logProb(w: tf.Tensor): tf.Tensor {
    return new Normal({loc: this.loc, scale: this.fixedScale('logProb')}).logProb(w);
  }

  /** `KL(N(loc_i, scale_i²) ‖ N(this.loc, this.scale²))` element-wise: the registered Normal‖Normal closed form (`normalKL`). */
  override analyticKL(loc: tf.Tensor, scale: tf.Tensor): tf.Tensor {
    return kl(new Normal({loc, scale}), new Normal({loc: this.loc, scale: this.fixedScale('analyticKL')}));
  }

  override get hasAnalyticKL(): boolean {
    return true;
  }

  /** Binds the prior to one tensor: the closed-form KL with the tensor's scale (`scaleFor`). */
  override bind(context: PriorContext): BoundPrior {
    const c = checkPriorContext('GaussianPrior.bind', context);
    const p = new Normal({loc: this.loc, scale: this.scaleFor(c.shape, c.fanIn)});
    return {
      hasAnalyticKL: true,
      divergence: (loc, scale, noise) => divergenceOf({
        analyticKL: (l, s) => kl(new Normal({loc: l, scale: s}), p),
        logProbSum: (w) => tf.tidy(() => tf.sum(p.logProb(w))),
        mcSamples: 1,
      }, loc, scale, noise),
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {loc: this.loc, scale: this.scale};
    if (this.scaleByFanIn) {
      config['scaleByFanIn'] = true;
      config['biasScale'] = this.biasScale;
    }
    return config;
  }

  private fixedScale(method: string): number {
    if (this.scaleByFanIn) {
      throw new Error(`GaussianPrior.${method}: with scaleByFanIn the scale depends on the weight tensor's fan-in; ` +
          'bind the prior to the tensor first (prior.bind({name, shape, fanIn, addWeight}); Bayesian layers do)');
    }
    return this.scale;
  }
}
registerBuiltinPrior('gaussian', GaussianPrior);

/**
 * The prior `N(loc, scale²)` on every weight (default `N(0, 1)`), with an
 * exact KL divergence; with `scaleByFanIn: true`, pyvarinf's default
 * `N(0, 1/fanIn)` on kernels and `N(0, 0.01²)` on biases.
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000, prior: tfv.priors.gaussian({scale: 0.5})});
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000, prior: tfv.priors.gaussian({scaleByFanIn: true})});
 * ```
 */
export function gaussian(args?: GaussianPriorArgs): GaussianPrior {
  return new GaussianPrior(args);
}
