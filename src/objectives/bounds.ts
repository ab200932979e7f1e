/**
 * Multi-sample variational bounds as compiled losses: the k-sample ELBO, the
 * importance-weighted bound (IWAE) and the Rényi (variational Rényi) bound.
 *
 * Each wraps a likelihood loss of `tfv.losses`. For a model whose latent
 * layer draws k samples per example (`tfv.layers.reparameterize({samples: k})`,
 * decoder output `[batch·k, …]`, example-major rows), the loss of example b is
 * built from its log-weights
 *
 *     log w_bs = log p(x_b | z_bs) + log p(z_bs) − log q(z_bs | x_b),   s = 1…k,
 *
 * the first term from the likelihood's `perSample`, the other two recorded
 * by the latent layer in the same forward pass (see `engine/log_weights.ts`
 * and docs/architecture.md). Compile a model with one of these losses and
 * `model.fit`, `evaluate` and `val_loss` use the bound.
 */
import * as tf from '@tensorflow/tfjs-core';

import {BOUND_LOSS, BoundLossLike, BoundLossTerms, takeLogWeights} from '../engine/log_weights';
import type {LikelihoodLoss} from '../losses';
import {argumentError, checkFiniteNumber, checkKnownOptions} from '../util/validate';

export interface BoundArgs {
  /**
   * The likelihood `p(x|z)`: a loss of `tfv.losses` (e.g.
   * `tfv.losses.bernoulliNLL({fromLogits: true})`), whose `perSample` gives
   * `−log p(x_b | z_bs)` as `[batch, k]`.
   */
  likelihood: LikelihoodLoss;
}

export interface RenyiBoundArgs extends BoundArgs {
  /**
   * α of the Rényi divergence, a finite number: α = 0 is the IWAE bound,
   * α → 1 the ELBO (α = 1 is computed as the ELBO), α < 0 an upper bound-like
   * objective that is no longer a lower bound of log p(x) (Li & Turner 2016, §3).
   */
  alpha: number;
}

/** A bound loss: `(yTrue, yPred) → [batch]`, the negative bound per example. */
export interface BoundLoss extends BoundLossLike {
  /** The likelihood it wraps (`estimateLogLikelihood` uses it). */
  readonly likelihood: LikelihoodLoss;
}

type Reduce = (logWeights: tf.Tensor, k: number) => tf.Tensor;

/** `log mean_s e^{x_s}` along axis 1, by a max-shifted log-sum-exp. */
function logMeanExp(x: tf.Tensor, k: number): tf.Tensor {
  return tf.sub(tf.logSumExp(x, 1), Math.log(k));
}

function checkLikelihood(where: string, likelihood: unknown): LikelihoodLoss {
  if (typeof likelihood !== 'function' || typeof (likelihood as Partial<LikelihoodLoss>).perSample !== 'function') {
    throw argumentError(where, 'likelihood',
        'a likelihood loss of tfv.losses (a function with perSample, e.g. tfv.losses.bernoulliNLL({fromLogits: true}))',
        likelihood);
  }
  return likelihood as LikelihoodLoss;
}

function makeBound(where: string, likelihood: LikelihoodLoss, reduce: Reduce): BoundLoss {
  // The terms of the last call, kept until the next one so that the logs of the same step can read them.
  let last: {yTrue: tf.Tensor, yPred: tf.Tensor, terms: BoundLossTerms}|null = null;
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    const [negBound, reconstruction, kl] = tf.tidy(() => {
      const nll = likelihood.perSample(yTrue, yPred);  // [batch, k]
      const [batch, k] = nll.shape;
      const latent = takeLogWeights(where, batch, k);  // log p(z) − log q(z|x)
      const logWeights = tf.sub(latent, nll);
      return [tf.neg(reduce(logWeights, k)), tf.mean(nll, 1), tf.neg(tf.mean(latent, 1))];
    });
    if (last !== null) tf.dispose([last.terms.reconstruction, last.terms.kl]);
    last = {yTrue, yPred, terms: {reconstruction: tf.keep(reconstruction), kl: tf.keep(kl)}};
    return negBound;
  };
  const logTerms = (yTrue: tf.Tensor, yPred: tf.Tensor): BoundLossTerms|null =>
      last !== null && last.yTrue === yTrue && last.yPred === yPred && !last.terms.kl.isDisposed ? last.terms : null;
  // Non-enumerable: tfjs-layers' getTrainingConfig walks Object.keys of a loss.
  Object.defineProperty(loss, 'name', {value: where, configurable: true});
  Object.defineProperty(loss, BOUND_LOSS, {value: true});
  Object.defineProperty(loss, 'logTerms', {value: logTerms});
  Object.defineProperty(loss, 'likelihood', {value: likelihood});
  return loss as unknown as BoundLoss;
}

/**
 * The k-sample ELBO, `L = mean_s log w_s`, as a loss (its negative per
 * example). With k = 1 it is the single-sample ELBO with a Monte Carlo KL
 * (`tfv.layers.klDivergence` gives the same bound with a closed-form KL and
 * less variance); its gradient's variance falls like 1/k.
 *
 * ```js
 * vae.compile({optimizer: 'adam', loss: tfv.objectives.elbo({likelihood: tfv.losses.bernoulliNLL({fromLogits: true})})});
 * ```
 */
export function elbo(args: BoundArgs): BoundLoss {
  const where = 'elbo';
  checkKnownOptions(where, args, ['likelihood']);
  return makeBound(where, checkLikelihood(where, args?.likelihood), (lw) => tf.mean(lw, 1));
}

/**
 * The importance-weighted bound of Burda, Grosse & Salakhutdinov 2016
 * (arXiv:1509.00519), as a loss (its negative per example):
 *
 *     L_k = log (1/k) Σ_s w_s,   w_s = p(x, z_s) / q(z_s | x),   z_s ~ q(z|x),
 *
 * computed as a max-shifted log-sum-exp of the log-weights. ELBO = L_1 ≤ L_k ≤
 * L_{k+1} ≤ log p(x), and L_k → log p(x) as k grows. The encoder runs once per
 * example; the decoder sees `[batch·k, …]` rows.
 *
 * ```js
 * const z = tfv.layers.reparameterize({samples: 5}).apply([zMu, zLogVar]);
 * // … decoder …
 * vae.compile({optimizer: 'adam', loss: tfv.objectives.iwae({likelihood: tfv.losses.bernoulliNLL({fromLogits: true})})});
 * ```
 */
export function iwae(args: BoundArgs): BoundLoss {
  const where = 'iwae';
  checkKnownOptions(where, args, ['likelihood']);
  return makeBound(where, checkLikelihood(where, args?.likelihood), logMeanExp);
}

/**
 * The variational Rényi bound of Li & Turner 2016 (arXiv:1602.02311), as a
 * loss (its negative per example), for α ≠ 1:
 *
 *     L_α = 1/(1 − α) · log (1/k) Σ_s w_s^{1−α}
 *
 * (a max-shifted log-sum-exp of `(1 − α)·log w`). α = 0 gives IWAE, α → 1
 * the ELBO (α = 1 is computed as the ELBO); for α ∈ [0, 1] it lies between
 * the two.
 *
 * ```js
 * vae.compile({optimizer: 'adam', loss: tfv.objectives.renyi({alpha: 0.5, likelihood: tfv.losses.bernoulliNLL({fromLogits: true})})});
 * ```
 */
export function renyi(args: RenyiBoundArgs): BoundLoss {
  const where = 'renyi';
  checkKnownOptions(where, args, ['likelihood', 'alpha']);
  const likelihood = checkLikelihood(where, args?.likelihood);
  const alpha = checkFiniteNumber(where, 'alpha', args?.alpha);
  if (alpha === 1) return makeBound(where, likelihood, (lw) => tf.mean(lw, 1));
  return makeBound(where, likelihood, (lw, k) => tf.div(logMeanExp(tf.mul(lw, 1 - alpha), k), 1 - alpha));
}
