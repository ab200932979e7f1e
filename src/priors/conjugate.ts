/**
 * pyvarinf's conjugate priors: the weights of one tensor are i.i.d. normal
 * with an unknown precision (and, for `conjugate`, an unknown mean) that has
 * its conjugate prior, integrated out. The result does not factorise over
 * the weights: each prior gives the joint `log p(w)` of the whole tensor
 * (`JointPrior.logProbSum`), and the divergence is a Monte Carlo estimate.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI} from '../distributions/normal';
import {lgammaNumber} from '../distributions/special';
import {checkFiniteNumber, checkKnownOptions, checkPositive} from '../util/validate';
import {JointPrior, mcSamplesOption, registerBuiltinPrior} from './prior';

/**
 * `log βₙ` with `βₙ = β₀ + ½ Σ_i (w_i − c)² + k (w̄ − μ₀)²`, where the centre c
 * is the mean w̄ (`centreOnMean`, the Normal-Gamma prior) or μ₀ (the known
 * mean, k = 0), without overflow: with m = max(max|w|, |μ₀|, 1) rounded up to a
 * power of two (so u = w/m is exact),
 *
 *     log βₙ = 2 log m + log(β₀/m² + ½ Σ (u_i − c/m)² + k (ū − μ₀/m)²),
 *
 * where every difference is at most 2 in magnitude (so the squares cannot
 * overflow, while Σ(w − w̄)² does from |w| ≈ 10¹⁹ and w − w̄ itself from
 * 1.7·10³⁸). The value does not depend on m, so m is held constant for
 * autodiff: then the gradient is the true one, (∂βₙ/∂w)/βₙ (through m,
 * its two cancelling paths would each be a product whose factor 1/m²
 * underflows while the other does not). Finite for every finite w, except
 * when all w_i equal μ₀ exactly at |μ₀| ≳ 10¹⁹·√β₀, where β₀/m² underflows
 * (−∞ where the true value is log β₀).
 */
function logBetaN(w: tf.Tensor, mu0: number, beta0: number, centreOnMean: boolean, k: number): tf.Scalar {
  return tf.tidy(() => {
    // m rounded up to a power of two (at most 2¹²⁷), so that w/m and μ₀/m are exact: no rounding of the weights before
    // their differences are formed (with m = 1.0001e4 itself, w ≈ 1e4 would lose the digits the spread lives in).
    const top = tf.maximum(tf.max(tf.abs(w)), Math.max(Math.abs(mu0), 1));
    const m = constantForGradient(tf.pow(tf.scalar(2), tf.minimum(tf.ceil(tf.div(tf.log(top), Math.LN2)), 127)));
    const u = tf.div(w, m);
    const u0 = tf.div(mu0, m);
    let q: tf.Tensor = tf.div(beta0, tf.square(m));
    if (centreOnMean) {
      const mean = safeMean(u);
      q = tf.add(q, tf.mul(tf.sum(tf.square(tf.sub(u, mean))), 0.5));
      q = tf.add(q, tf.mul(tf.square(tf.sub(mean, u0)), k));
    } else {
      q = tf.add(q, tf.mul(tf.sum(tf.square(tf.sub(u, u0))), 0.5));
    }
    return tf.add(tf.mul(tf.log(m), 2), tf.log(q)) as tf.Scalar;
  });
}

/** `x` as a value, with no gradient flowing back through it. */
const constantForGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** The mean of a tensor as Σ (w/n): no overflow of the sum before the mean's. */
function safeMean(w: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(w, 1 / w.size));
}

export interface ConjugatePriorArgs {
  /** μ₀, the prior mean of the weights' mean μ. Default 0. */
  mu0?: number;
  /** κ₀ > 0, the pseudo-count of μ₀ (μ | τ ~ N(μ₀, 1/(κ₀τ))). Default 1. */
  kappa0?: number;
  /** α₀ > 0, the shape of the precision's Gamma prior (τ ~ Gamma(α₀, rate β₀)). Default 1. */
  alpha0?: number;
  /** β₀ > 0, the rate of the precision's Gamma prior. Default 1. */
  beta0?: number;
  /** Monte Carlo draws S averaged per divergence (a positive integer). Default 1. */
  mcSamples?: number;
}

/**
 * pyvarinf's Normal-Gamma prior (`sub_conjprior` in ctallec/pyvarinf,
 * pyvarinf/vi.py): the n weights of one tensor are i.i.d. `N(μ, 1/τ)` with
 * `(μ, τ) ~ NormalGamma(μ₀, κ₀, α₀, β₀)`, i.e. `τ ~ Gamma(α₀, rate β₀)`,
 * `μ | τ ~ N(μ₀, 1/(κ₀τ))`, integrated out. `log p(w)` is the marginal
 * likelihood of the Normal-Gamma model (Murphy 2007, "Conjugate Bayesian
 * analysis of the Gaussian distribution", its marginal likelihood with
 * unknown mean and precision): with w̄ the mean of the tensor,
 *
 *     κₙ = κ₀ + n,  αₙ = α₀ + n/2,  βₙ = β₀ + ½ Σ_i (w_i − w̄)² + κ₀ n (w̄ − μ₀)² / (2κₙ),
 *     log p(w) = lnΓ(αₙ) − lnΓ(α₀) + α₀ ln β₀ − αₙ ln βₙ + ½ ln(κ₀/κₙ) − (n/2) ln 2π.
 *
 * The weights are exchangeable but dependent, so the prior is a `JointPrior`
 * (`logProbSum`, no element-wise `logProb`). There is no closed-form KL from
 * a mean-field normal posterior: the divergence is the Monte Carlo estimate
 * over `mcSamples` draws (pyvarinf's `n_mc_samples`; it subtracts q's exact
 * entropy where we subtract `log q` at the same draw, both unbiased).
 * The constants are in double precision (`lgammaNumber`); `ln βₙ` is formed
 * without overflow, so every finite w has a finite value and gradient.
 */
export class ConjugatePrior extends JointPrior {
  /** @nocollapse */
  static className = 'ConjugatePrior';

  readonly mu0: number;
  readonly kappa0: number;
  readonly alpha0: number;
  readonly beta0: number;
  private readonly samples: number;

  constructor(args: ConjugatePriorArgs = {}) {
    super();
    const where = 'conjugatePrior';
    checkKnownOptions(where, args, ['mu0', 'kappa0', 'alpha0', 'beta0', 'mcSamples']);
    this.mu0 = args.mu0 === undefined ? 0 : checkFiniteNumber(where, 'mu0', args.mu0);
    this.kappa0 = args.kappa0 === undefined ? 1 : checkPositive(where, 'kappa0', args.kappa0);
    this.alpha0 = args.alpha0 === undefined ? 1 : checkPositive(where, 'alpha0', args.alpha0);
    this.beta0 = args.beta0 === undefined ? 1 : checkPositive(where, 'beta0', args.beta0);
    this.samples = mcSamplesOption(where, args.mcSamples);
  }

  override get mcSamples(): number {
    return this.samples;
  }

  /** The joint log marginal likelihood of the weights of `w` (a scalar; see the class). */
  override logProbSum(w: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const n = w.size;
      const kappaN = this.kappa0 + n;
      const alphaN = this.alpha0 + n / 2;
      const constant = lgammaNumber(alphaN) - lgammaNumber(this.alpha0) + this.alpha0 * Math.log(this.beta0) +
          0.5 * (Math.log(this.kappa0) - Math.log(kappaN)) - n * HALF_LOG_TWO_PI;
      // βₙ = β₀ + ½ Σ (w − w̄)² + (κ₀ n / (2κₙ)) (w̄ − μ₀)².
      const logBeta = logBetaN(w, this.mu0, this.beta0, true, this.kappa0 * n / (2 * kappaN));
      return tf.sub(constant, tf.mul(logBeta, alphaN)) as tf.Scalar;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {mu0: this.mu0, kappa0: this.kappa0, alpha0: this.alpha0, beta0: this.beta0, mcSamples: this.samples};
  }
}
registerBuiltinPrior('conjugate', ConjugatePrior);

export interface ConjugateKnownMeanPriorArgs {
  /** μ₀, the known mean of every weight. Default 0. */
  mu0?: number;
  /** α₀ > 0, the shape of the precision's Gamma prior (τ ~ Gamma(α₀, rate β₀)). Default 1. */
  alpha0?: number;
  /** β₀ > 0, the rate of the precision's Gamma prior. Default 1. */
  beta0?: number;
  /** Monte Carlo draws S averaged per divergence (a positive integer). Default 1. */
  mcSamples?: number;
}

/**
 * pyvarinf's conjugate prior with a known mean (`sub_conjpriorknownmean` in
 * ctallec/pyvarinf, pyvarinf/vi.py): the n weights of one tensor are i.i.d.
 * `N(μ₀, 1/τ)` with `τ ~ Gamma(α₀, rate β₀)` integrated out (a Student-t
 * scale mixture, jointly):
 *
 *     αₙ = α₀ + n/2,  βₙ = β₀ + ½ Σ_i (w_i − μ₀)²,
 *     log p(w) = lnΓ(αₙ) − lnΓ(α₀) + α₀ ln β₀ − αₙ ln βₙ − (n/2) ln 2π
 *
 * (Murphy 2007, the marginal likelihood with known mean and a Gamma prior on
 * the precision). A `JointPrior`;
 * Monte Carlo KL over `mcSamples` draws, as `ConjugatePrior`.
 */
export class ConjugateKnownMeanPrior extends JointPrior {
  /** @nocollapse */
  static className = 'ConjugateKnownMeanPrior';

  readonly mu0: number;
  readonly alpha0: number;
  readonly beta0: number;
  private readonly samples: number;

  constructor(args: ConjugateKnownMeanPriorArgs = {}) {
    super();
    const where = 'conjugateKnownMeanPrior';
    checkKnownOptions(where, args, ['mu0', 'alpha0', 'beta0', 'mcSamples']);
    this.mu0 = args.mu0 === undefined ? 0 : checkFiniteNumber(where, 'mu0', args.mu0);
    this.alpha0 = args.alpha0 === undefined ? 1 : checkPositive(where, 'alpha0', args.alpha0);
    this.beta0 = args.beta0 === undefined ? 1 : checkPositive(where, 'beta0', args.beta0);
    this.samples = mcSamplesOption(where, args.mcSamples);
  }

  override get mcSamples(): number {
    return this.samples;
  }

  /** The joint log marginal likelihood of the weights of `w` (a scalar; see the class). */
  override logProbSum(w: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const n = w.size;
      const alphaN = this.alpha0 + n / 2;
      const constant = lgammaNumber(alphaN) - lgammaNumber(this.alpha0) + this.alpha0 * Math.log(this.beta0) -
          n * HALF_LOG_TWO_PI;
      const logBeta = logBetaN(w, this.mu0, this.beta0, false, 0);
      return tf.sub(constant, tf.mul(logBeta, alphaN)) as tf.Scalar;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {mu0: this.mu0, alpha0: this.alpha0, beta0: this.beta0, mcSamples: this.samples};
  }
}
registerBuiltinPrior('conjugateKnownMean', ConjugateKnownMeanPrior);

/**
 * pyvarinf's Normal-Gamma prior on the weights of each tensor, integrated
 * out (a joint prior; Monte Carlo KL).
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000,
 *   prior: tfv.priors.conjugate({mu0: 0, kappa0: 1, alpha0: 2, beta0: 0.5, mcSamples: 2})});
 * ```
 */
export function conjugate(args?: ConjugatePriorArgs): ConjugatePrior {
  return new ConjugatePrior(args);
}

/**
 * pyvarinf's Gamma prior on the precision of each tensor's weights around a
 * known mean, integrated out (a joint prior; Monte Carlo KL).
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000, prior: tfv.priors.conjugateKnownMean({alpha0: 2, beta0: 0.5})});
 * ```
 */
export function conjugateKnownMean(args?: ConjugateKnownMeanPriorArgs): ConjugateKnownMeanPrior {
  return new ConjugateKnownMeanPrior(args);
}
