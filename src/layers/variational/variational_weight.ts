/**
 * One weight tensor of a Bayesian layer with a mean-field normal posterior
 *
 *     q(w) = Π_i N(w_i; μ_i, σ_i²),   σ = 10⁻⁵ + softplus(ρ),
 *
 * or a point estimate μ (a deterministic bias). It owns the tensor's
 * posterior variables (`<role>_loc`, `<role>_untransformed_scale`) with
 * their initialisers, the prior bound to the tensor, and the tensor's
 * divergence `Σ_i KL(q(w_i) ‖ p(w_i))` given the estimator's noise.
 */
import * as tf from '@tensorflow/tfjs-core';

import {softplusScale} from '../../distributions/normal';
import {GaussianPrior} from '../../priors/gaussian';
import type {BoundPrior, Prior} from '../../priors/prior';
import {ScaleMixturePrior} from '../../priors/scale_mixture';
import type {Initializer, LayerVariable} from '../../util/tfjs_types';
import {
  fusedMixtureSampleAvailable, fusedSampleAvailable, mixtureSampleAndKL, normalSampleAndKL, NumberNormalPrior, SampleAndDivergence,
} from './fused_sample';
import {fusedVarianceAvailable, LocalVarianceTerms, localVarianceTerms} from './fused_variance';

/** Adds one float32 weight to the layer that owns the tensor. */
export type AddLayerWeight = (name: string, shape: number[], initializer: Initializer, trainable: boolean) => LayerVariable;

export interface VariationalWeightSpec {
  /** The weight's role, the prefix of its variables' names: `'kernel'` or `'bias'`. */
  role: string;
  shape: number[];
  /** Inputs summed per output unit (for priors that scale with it). */
  fanIn: number;
  /** Initialiser of μ. */
  locInitializer: Initializer;
  /** Initialiser of ρ, or null for a point estimate (no posterior scale, no divergence). */
  untransformedScaleInitializer: Initializer|null;
  /** The prior of a Bayesian tensor. */
  prior: Prior;
}

/** The posterior's parameters as tensors: μ and σ > 0 (null for a point estimate). */
export interface WeightPosterior {
  loc: tf.Tensor;
  scale: tf.Tensor|null;
}

export class VariationalWeight {
  readonly role: string;
  readonly shape: number[];
  private readonly loc: LayerVariable;
  private readonly untransformedScale: LayerVariable|null;
  private readonly bound: BoundPrior|null;
  /** The bound prior as `N(m, s²)` with number parameters when it is the plain Gaussian prior (for the fused op). */
  private readonly numberNormalPrior: NumberNormalPrior|null;
  /** The prior when it is the scale mixture with one Monte Carlo draw (for the fused op). */
  private readonly mixturePrior: ScaleMixturePrior|null;

  /** Creates the posterior variables through `addWeight`, then binds the prior (call from `build`). */
  constructor(spec: VariationalWeightSpec, addWeight: AddLayerWeight) {
    this.role = spec.role;
    this.shape = spec.shape;
    this.loc = addWeight(`${spec.role}_loc`, spec.shape, spec.locInitializer, true);
    const rhoInit = spec.untransformedScaleInitializer;
    this.untransformedScale = rhoInit === null ? null : addWeight(`${spec.role}_untransformed_scale`, spec.shape, rhoInit, true);
    this.bound = rhoInit === null ? null : spec.prior.bind({
      name: spec.role,
      shape: spec.shape,
      fanIn: spec.fanIn,
      addWeight: (name, shape, initializer, trainable) => addWeight(`${spec.role}_${name}`, shape, initializer, trainable),
    });
    // Exactly the built-in class (a subclass may bind a different divergence).
    const prior = spec.prior;
    this.numberNormalPrior = rhoInit !== null && prior instanceof GaussianPrior && prior.constructor === GaussianPrior ?
      {loc: prior.loc, scale: prior.scaleFor(spec.shape, spec.fanIn)} : null;
    this.mixturePrior = rhoInit !== null && prior instanceof ScaleMixturePrior && prior.constructor === ScaleMixturePrior &&
      prior.mcSamples === 1 ? prior : null;
  }

  /** Whether the tensor has a posterior scale (and so noise and a divergence). */
  get isBayesian(): boolean {
    return this.untransformedScale !== null;
  }

  /** Whether the divergence needs a posterior sample (no closed form). */
  get needsNoise(): boolean {
    return this.bound !== null && !this.bound.hasAnalyticKL;
  }

  /** `{loc, scale}` with σ = 10⁻⁵ + softplus(ρ) (new tensors in the caller's scope). */
  read(): WeightPosterior {
    return {
      loc: this.loc.read(),
      scale: this.untransformedScale === null ? null : softplusScale(this.untransformedScale.read()),
    };
  }

  /**
   * Whether `fusedSample` runs one fused op for this tensor's sample and
   * divergence: a Gaussian prior with number parameters (as bound) or the
   * scale mixture with one Monte Carlo draw, and the fused passes available
   * for μ and ρ (wasm, fast kernels on).
   */
  get canFuseSample(): boolean {
    if (this.untransformedScale === null) return false;
    const mu = this.loc.read();
    const rho = this.untransformedScale.read();
    if (this.numberNormalPrior !== null) return fusedSampleAvailable(mu, rho, rho, this.numberNormalPrior);
    return this.mixturePrior !== null && fusedMixtureSampleAvailable(mu, rho, rho, this.mixturePrior);
  }

  /**
   * `{sample: μ + σ ⊙ ε (centered: σ ⊙ ε), kl: Σ_i KL(q(w_i) ‖ p(w_i))}` from
   * one op (`normalSampleAndKL`, or `mixtureSampleAndKL`: the Monte Carlo
   * estimate at this sample); only where `canFuseSample`. Centered, the
   * result's `loc` is μ passed through the op, for the caller's mean output.
   */
  fusedSample(eps: tf.Tensor, centered: boolean): SampleAndDivergence {
    if (this.untransformedScale !== null && this.numberNormalPrior !== null) {
      return normalSampleAndKL(this.loc.read(), this.untransformedScale.read(), eps, this.numberNormalPrior, centered, centered);
    }
    if (this.untransformedScale !== null && this.mixturePrior !== null) {
      return mixtureSampleAndKL(this.loc.read(), this.untransformedScale.read(), eps, this.mixturePrior, centered, centered);
    }
    throw new Error(`fusedSample: the ${this.role}'s prior is neither a Gaussian prior with number parameters nor a scale mixture`);
  }

  /**
   * Whether `fusedVarianceTerms` runs fused passes for this tensor (the
   * kernel): a Gaussian prior with number parameters (as bound) or the scale
   * mixture with one Monte Carlo draw, and the variance passes available for μ
   * and ρ (wasm, fast kernels on, at least 4 output channels).
   */
  get canFuseVariance(): boolean {
    if (this.untransformedScale === null) return false;
    const mu = this.loc.read();
    const rho = this.untransformedScale.read();
    if (this.numberNormalPrior !== null) return fusedVarianceAvailable(mu, rho, null, this.numberNormalPrior);
    return this.mixturePrior !== null && fusedVarianceAvailable(mu, rho, null, {mixture: this.mixturePrior, eps: rho});
  }

  /**
   * Local reparameterization's terms of this tensor (the kernel) and its
   * divergence, `{scaledSquare: (σ/s)², scale: s, kl, loc}` (`localVarianceTerms`;
   * s also over `biasScale`; `loc` μ for the mean product): the closed-form KL of a Gaussian prior from the
   * same fused op; for the scale mixture, when `draw` is given, the Monte Carlo
   * estimate at `μ + σ ⊙ ε` from the same op, ε = `draw(shape)` (the draw the
   * unfused divergence makes), else no divergence (kl null). Only where
   * `canFuseVariance`.
   */
  fusedVarianceTerms(biasScale: tf.Tensor|null, draw: ((shape: number[]) => tf.Tensor)|null): LocalVarianceTerms {
    if (this.untransformedScale !== null && this.numberNormalPrior !== null) {
      return localVarianceTerms(this.loc.read(), this.untransformedScale.read(), biasScale, this.numberNormalPrior);
    }
    if (this.untransformedScale !== null && this.mixturePrior !== null) {
      const eps = draw === null ? null : draw(this.shape);
      const terms = localVarianceTerms(this.loc.read(), this.untransformedScale.read(), biasScale,
          eps === null ? null : {mixture: this.mixturePrior, eps});
      if (eps !== null) eps.dispose();
      return terms;
    }
    throw new Error(`fusedVarianceTerms: the ${this.role}'s prior is neither a Gaussian prior with number parameters nor a scale mixture`);
  }

  /** μ alone (a new tensor in the caller's scope), for the posterior mean's output. */
  readLoc(): tf.Tensor {
    return this.loc.read();
  }

  /**
   * `Σ_i KL(q(w_i) ‖ p(w_i))` for the posterior `q` read by `read()`: the
   * closed form, or Monte Carlo at `eps` (the estimator's noise of this
   * tensor) or at `draw()` when the estimator drew none. 0 for a point estimate.
   */
  divergence(q: WeightPosterior, eps: tf.Tensor|null, draw: (shape: number[]) => tf.Tensor): tf.Scalar {
    if (this.bound === null || q.scale === null) return tf.scalar(0);
    return this.bound.divergence(q.loc, q.scale, {eps, draw: () => draw(this.shape)});
  }
}
