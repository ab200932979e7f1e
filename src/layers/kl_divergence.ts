/**
 * The KL divergence of a diagonal Gaussian posterior from the standard
 * normal prior, attached to a model as a loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Kwargs, LayerArgs} from '../util/tfjs_types';

import {standardNormalKL} from '../distributions/normal';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions, checkNonNegative, checkPositiveInteger, checkSeed, LAYER_ARG_NAMES} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {DivergenceLayer} from './divergence_layer';
import {gaussianParamShape, ShapeArg, splitGaussianParams} from './gaussian_params';
import {KLPrior, KLPriorSpec, resolveKLPrior} from './kl_prior';
import type {LatentPrior} from './latent_prior';

export interface KLDivergenceLayerArgs extends LayerArgs {
  /**
   * Multiplier β of the divergence (β-VAE; KL annealing). Stored as a
   * non-trainable weight `kl_weight`, so a callback can change it between
   * epochs or batches without rebuilding the model, and a saved model keeps
   * its current value. Default 1.
   */
  weight?: number;
  /**
   * Free bits λ in nats per latent dimension (Kingma et al. 2016): each
   * dimension's batch-averaged KL below λ is replaced by λ, so the encoder
   * is not pushed to collapse it. Default 0 (off).
   */
  freeBits?: number;
  /**
   * The prior p(z): `'standardNormal'` (default; closed-form KL), a fixed
   * distribution of `tfv.distributions` — a `Normal` (closed form, its
   * parameters broadcast against the latent) or a `MixtureOfGaussians` over
   * the last axis (Monte Carlo KL) — or a learned prior whose parameters are
   * weights of this layer: `{learned: 'normal'}` (`prior_loc`,
   * `prior_untransformed_scale` per latent dimension; closed form) or
   * `{learned: 'mixtureOfGaussians', components: K}` (`prior_logits`,
   * `prior_locs`, `prior_untransformed_scales`; Monte Carlo). Saved in the
   * config as `'standardNormal'`, `{className, config}` or the learned spec.
   */
  prior?: KLPriorSpec;
  /** Draws per example of a Monte Carlo KL (priors without a closed form). Default 1. */
  mcSamples?: number;
  /**
   * A non-negative integer that makes a Monte Carlo KL repeatable (the i-th
   * estimate draws with a seed derived from `(seed, i)`). Default: unseeded.
   */
  seed?: number;
}

const KL_DIVERGENCE_ARG_NAMES = ['weight', 'freeBits', 'prior', 'mcSamples', 'seed', ...LAYER_ARG_NAMES];

/**
 * Per-element KL divergence `KL(N(mu, e^logVar) ‖ N(0, 1))`:
 *
 *     kl = ½ (e^logVar − 1 − logVar) + ½ mu²
 *
 * finite and accurate wherever the true value fits in float32 (see
 * `standardNormalKL`: no overflow of `mu²` or `e^logVar` before the ½, no
 * cancellation of `e^v − 1 − v` near v = 0); +∞, never NaN, beyond.
 */
export function gaussianKLElementwise(mu: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return standardNormalKL(mu, logVar);
}

/**
 * `mean over the batch of Σ_event kl`, or with free bits λ
 * `Σ_event max(λ, mean over the batch of kl)`.
 */
export function gaussianKL(mu: tf.Tensor, logVar: tf.Tensor, freeBits = 0): tf.Scalar {
  return tf.tidy(() => batchKL(gaussianKLElementwise(mu, logVar), freeBits));
}

/** `mean over the batch of Σ kl` for a `[batch, ...]` KL, or with free bits `Σ max(λ, batch mean)` per element. */
function batchKL(kl: tf.Tensor, freeBits: number): tf.Scalar {
  return (freeBits > 0 ? tf.sum(tf.maximum(tf.mean(kl, 0), freeBits)) : tf.div(tf.sum(kl), kl.shape[0])) as tf.Scalar;
}

/**
 * Identity on the parameters of a diagonal Gaussian posterior
 * `q(z|x) = N(mu, diag(e^logVar))` that adds, through `addLoss`,
 *
 *     β · (1/B) Σ_b Σ_d ½ (e^logVar_bd + mu_bd² − 1 − logVar_bd)
 *
 * — the batch mean of `KL(q(z|x) ‖ N(0, I))`, on the same per-example
 * scale as a likelihood loss from `tfv.losses`, so that the compiled loss
 * plus this term is the negative ELBO. With free bits λ the term is
 * `β · Σ_d max(λ, (1/B) Σ_b kl_bd)`.
 *
 * The loss is recorded when the layer runs in training (`model.fit`) and
 * during full-objective evaluation (`model.evaluate`, `fit`'s validation,
 * `tfv.evaluateObjective`); `predict` skips it. Every application of the
 * layer within a step counts.
 *
 * **Input:** `[mu, logVar]`, two tensors `[batch, ...event]`, or one tensor
 * `[batch, ..., 2·d]` holding `mu` then `logVar` on its last axis.
 * **Output:** the input, unchanged.
 *
 * References: Kingma & Welling 2014 (arXiv:1312.6114), appendix B;
 * Kingma et al. 2016 (arXiv:1606.04934), free bits.
 */
export class KLDivergenceLayer extends DivergenceLayer {
  /** @nocollapse */
  static className = 'KLDivergenceLayer';

  readonly freeBits: number;
  readonly mcSamples: number;
  readonly seed: number|undefined;
  private readonly prior: KLPrior;
  /** Set by `compile` with a bound loss: the bound holds this latent's divergence per sample. */
  private covered = false;

  constructor(args: KLDivergenceLayerArgs = {}) {
    const where = 'klDivergence';
    checkKnownOptions(where, args, KL_DIVERGENCE_ARG_NAMES);
    const seed = args.seed == null ? undefined : checkSeed(where, 'seed', args.seed);
    super(args, args.weight === undefined ? 1 : checkNonNegative(where, 'weight', args.weight), seed);
    this.seed = seed;
    this.freeBits = args.freeBits === undefined ? 0 : checkNonNegative(where, 'freeBits', args.freeBits);
    this.mcSamples = args.mcSamples == null ? 1 : checkPositiveInteger(where, 'mcSamples', args.mcSamples);
    this.prior = resolveKLPrior(where, args.prior);
    if (this.freeBits > 0 && !this.prior.elementwise) {
      throw new Error(`${where}: free bits need a KL per latent dimension, which a ${JSON.stringify(this.prior.config)} ` +
          `prior does not factorise into. Received: freeBits=${this.freeBits}`);
    }
  }

  override build(inputShape: ShapeArg): void {
    const shape = gaussianParamShape('klDivergence', inputShape);
    const d = shape[shape.length - 1];
    if (d == null && this.prior.config !== 'standardNormal') {
      throw new Error(`klDivergence: a ${JSON.stringify(this.prior.config)} prior needs the latent size (the last axis ` +
          `of mu) to be known. Received: mu shape=[${shape.map(String)}]`);
    }
    this.prior.build((name, shape, init) => this.addWeight(name, shape, 'float32', init), d ?? 0, this.seed);
    this.addDivergenceWeight();
    this.built = true;
  }

  override computeOutputShape(inputShape: ShapeArg): ShapeArg {
    gaussianParamShape('klDivergence', inputShape);
    return inputShape;
  }

  /** `[mu, logVar]` in, the same pair out (symbolic for symbolic inputs). */
  override apply(inputs: [SymbolicTensor, SymbolicTensor], kwargs?: Kwargs): [SymbolicTensor, SymbolicTensor];
  override apply(inputs: [tf.Tensor, tf.Tensor], kwargs?: Kwargs): [tf.Tensor, tf.Tensor];
  /** Results of other layers' `apply` (tfjs's union type) in, a pair out. */
  override apply(inputs: [LayerIO, LayerIO], kwargs?: Kwargs): [AnyTensor, AnyTensor];
  /** One tensor holding `[mu, logVar]` on its last axis in, the same tensor out. */
  override apply(inputs: SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  override apply(inputs: LayerIO, kwargs?: Kwargs): LayerIO;
  override apply(inputs: LayerIO|[LayerIO, LayerIO], kwargs?: Kwargs): LayerIO|AnyTensor[] {
    return super.apply(inputs as LayerIO, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor|tf.Tensor[] {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const key = this.covered ? null : this.divergenceKey(list, kwargs);
    if (key === null) {
      gaussianParamShape('klDivergence', list.length === 1 ? list[0].shape : list.map((t) => t.shape));
    } else {
      tf.tidy(() => {
        const [mu, logVar] = splitGaussianParams('klDivergence', inputs);
        // The ELBO's term is the plain batch mean; the trained surrogate applies free bits.
        const kl = this.prior.divergence(mu, logVar, this.mcSamples, this.seeds.next());
        const term = batchKL(kl, 0);
        this.recordDivergence(key, this.freeBits > 0 ? batchKL(kl, this.freeBits) : term, term);
      });
    }
    // New tensor objects: tfjs's executor frees a layer's inputs after their last use,
    // which must not free what this layer returns.
    const out = list.map((t) => tf.clone(t));
    return Array.isArray(inputs) ? out : out[0];
  }

  /** The prior `p(z)` of the latent whose parameters this layer passes on. */
  latentPrior(): LatentPrior {
    return this.prior.latentPrior();
  }

  /** Whether a bound loss covers this layer's divergence (its KL is then not added). */
  get coveredByBound(): boolean {
    return this.covered;
  }

  /**
   * Set by `compile` with a bound loss of `tfv.objectives` when this layer
   * feeds a `Reparameterize` layer, which then records `log p(z) − log q(z|x)`
   * per sample: the closed-form KL is not added on top. Not saved in the config.
   *
   * @internal
   */
  setCoveredByBound(covered: boolean): void {
    this.covered = covered;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      weight: this.initialKLWeight,
      freeBits: this.freeBits,
      prior: this.prior.config,
      mcSamples: this.mcSamples,
      seed: this.seed ?? null,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(KLDivergenceLayer, SERIALIZATION_PACKAGE);

/**
 * Adds `β · KL(N(mu, e^logVar) ‖ N(0, I))` (batch mean) to the model's loss
 * and passes `[mu, logVar]` through.
 *
 * ```js
 * let [mu, logVar] = [tf.layers.dense({units: 2}).apply(h), tf.layers.dense({units: 2}).apply(h)];
 * [mu, logVar] = tfv.layers.klDivergence({weight: 1}).apply([mu, logVar]);
 * ```
 */
export function klDivergence(args?: KLDivergenceLayerArgs): KLDivergenceLayer {
  return new KLDivergenceLayer(args);
}
