/**
 * The shared shape of the Gaussian priors whose parameters are weights of
 * the layer they are bound to (the empirical-Bayes prior's scale, MOPED's
 * centres): no density until bound, a closed-form KL once bound.
 */
import * as tf from '@tensorflow/tfjs-core';

import {kl} from '../distributions/kl';
import {Normal} from '../distributions/normal_distribution';
import {BoundPrior, checkPriorContext, divergenceOf, Prior, PriorContext} from './prior';

/**
 * A prior `N(m, s²)` per weight whose `m` or `s` are weights of the layer:
 * `bindNormal` adds them through `context.addWeight` and returns the prior
 * distribution read from them; the bound divergence is the Normal‖Normal
 * closed form. Unbound, `logProb` and `analyticKL` throw, saying why.
 */
export abstract class LayerGaussianPrior extends Prior {
  /** What of the prior lives in the layer, for the unbound error (e.g. `'scale'`, `'centres'`). */
  protected abstract readonly layerParameters: string;

  /** Adds the prior's weights for one tensor and returns its prior distribution, read at each call. */
  protected abstract bindNormal(context: PriorContext): () => Normal;

  override logProb(_w: tf.Tensor): tf.Tensor {
    throw this.unbound('logProb');
  }

  override analyticKL(_loc: tf.Tensor, _scale: tf.Tensor): tf.Tensor {
    throw this.unbound('analyticKL');
  }

  override get hasAnalyticKL(): boolean {
    return true;
  }

  /** Adds the tensor's prior weights to the layer; the bound divergence is the closed form in them. */
  override bind(context: PriorContext): BoundPrior {
    const prior = this.bindNormal(checkPriorContext(`${this.getClassName()}.bind`, context));
    return {
      hasAnalyticKL: true,
      divergence: (loc, scale, noise) => divergenceOf({
        analyticKL: (l, s) => kl(new Normal({loc: l, scale: s}), prior()),
        logProbSum: (w) => tf.tidy(() => tf.sum(prior().logProb(w))),
        mcSamples: 1,
      }, loc, scale, noise),
    };
  }

  private unbound(method: string): Error {
    return new Error(`${this.getClassName()}.${method}: the prior's ${this.layerParameters} a weight of the layer it is bound to; ` +
        'bind it to a weight tensor first (prior.bind({name, shape, fanIn, addWeight}); Bayesian layers do when they build)');
  }
}
