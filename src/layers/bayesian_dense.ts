/**
 * A dense layer with a mean-field Gaussian posterior over its weights, whose
 * divergence from a prior joins the model's loss (Bayes by Backprop).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {ActivationIdentifier, Initializer, Kwargs, LayerArgs, LayerVariable, Shape} from '../util/tfjs_types';

import {softplusScale} from '../distributions/normal';
import {Prior, PriorIdentifier, resolvePrior as resolveRegisteredPrior, serializePrior} from '../priors/prior';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  argumentError, checkBoolean, checkKnownOptions, checkNonNegative, checkOneOf, checkPositive, checkPositiveInteger,
  checkSeed, LAYER_ARG_NAMES,
} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {denseFlipout, denseLocalReparameterization, denseMean, DensePosterior, denseReparameterization, randomSigns} from './dense_estimators';
import {DivergenceLayer} from './divergence_layer';
import {checkInferenceMode, InferenceMode} from './inference_mode';
import {InitializerSpec, resolveInitializer, serializeInitializer} from './initializer_spec';

export type BayesianDenseEstimator = 'reparameterization'|'localReparameterization'|'flipout';
const ESTIMATORS: readonly BayesianDenseEstimator[] = ['reparameterization', 'localReparameterization', 'flipout'];
const BAYESIAN_DENSE_ARG_NAMES = [
  'units', 'activation', 'useBias', 'bayesianBias', 'estimator', 'prior', 'priorScale', 'numExamples', 'klWeight',
  'inferenceMode', 'seed', 'kernelLocInitializer', 'kernelUntransformedScaleInitializer', 'biasLocInitializer',
  'biasUntransformedScaleInitializer', ...LAYER_ARG_NAMES,
];

export interface BayesianDenseArgs extends LayerArgs {
  /** Output units, a positive integer. */
  units: number;
  /** Activation applied to the output (a tfjs name). Default `'linear'`. */
  activation?: ActivationIdentifier;
  /** Whether the layer has a bias. Default true. */
  useBias?: boolean;
  /**
   * Whether the bias has a Gaussian posterior `N(μ_b, σ_b²)` (and a prior
   * term in the divergence) rather than a point estimate `μ_b`. Default
   * false, like TFP's layers.
   */
  bayesianBias?: boolean;
  /**
   * How the output is sampled at training (see the class doc):
   * `'reparameterization'` (default; one weight draw per batch),
   * `'localReparameterization'` (pre-activations sampled per example) or
   * `'flipout'` (one draw decorrelated per example by random signs).
   */
  estimator?: BayesianDenseEstimator;
  /**
   * The weight prior: a registered name (`'gaussian'`, default;
   * `'scaleMixture'`), a `{className, config}`, or an instance
   * (`tfv.priors.scaleMixture({pi: 0.25})`). The config stores it as
   * `{className, config}`.
   */
  prior?: PriorIdentifier;
  /** Shorthand for `prior: tfv.priors.gaussian({scale: priorScale})`; only with the Gaussian prior. Default 1. */
  priorScale?: number;
  /**
   * N, the number of training examples: the divergence is scaled by 1/N, so
   * that with a per-example (batch-mean) data loss the objective is the
   * negative ELBO per example. Give this or `klWeight`.
   */
  numExamples?: number;
  /**
   * The divergence's multiplier directly (e.g. `1 / N`, or a tempered
   * value). Give this or `numExamples`. Stored as the non-trainable weight
   * `kl_weight`; change it with `setKLWeight` (annealing).
   */
  klWeight?: number;
  /**
   * Outside training: `'sample'` (default) draws weights as in training, so
   * repeated `predict` calls give Monte Carlo predictions; `'mean'` uses the
   * posterior mean (deterministic).
   */
  inferenceMode?: InferenceMode;
  /**
   * Makes the noise repeatable: the i-th draw of the layer uses a seed
   * derived from `(seed, i)` (see `resetSeed`). Initializers take their own
   * seeds. Default: unseeded.
   */
  seed?: number;
  /** Initializer of the posterior means μ. Default `'glorotNormal'`. */
  kernelLocInitializer?: InitializerSpec;
  /**
   * Initializer of ρ, the untransformed kernel scales (σ = 10⁻⁵ + softplus(ρ)).
   * Default `randomNormal({mean: -3, stddev: 0.1})` (σ ≈ 0.05), as TFP.
   */
  kernelUntransformedScaleInitializer?: InitializerSpec;
  /** Initializer of the bias (its posterior mean). Default `'zeros'`. */
  biasLocInitializer?: InitializerSpec;
  /** Initializer of the bias's ρ when `bayesianBias`. Default as for the kernel. */
  biasUntransformedScaleInitializer?: InitializerSpec;
}

function defaultUntransformedScale(): Initializer {
  return tfl.initializers.randomNormal({mean: -3, stddev: 0.1});
}

function makeActivation(where: string, activation: unknown, name: string): tfl.layers.Layer {
  try {
    return tfl.layers.activation({activation: activation as ActivationIdentifier, name});
  } catch {
    throw argumentError(where, 'activation', 'a tfjs activation name (e.g. \'relu\')', activation);
  }
}

/**
 * A dense layer `y = activation(x W + b)` whose kernel (and optionally bias)
 * has a factorised Gaussian posterior
 *
 *     q(W) = Π_ij N(W_ij; μ_ij, σ_ij²),   σ = 10⁻⁵ + softplus(ρ),
 *
 * learned by variational inference (Bayes by Backprop, Blundell et al. 2015,
 * arXiv:1505.05424). Its weights are `kernel_loc` (μ), `kernel_untransformed_scale`
 * (ρ), `bias_loc`, optionally `bias_untransformed_scale`, and the
 * non-trainable `kl_weight`. Through `addLoss` it adds
 *
 *     klWeight · KL(q(W, b) ‖ p(W, b)),   klWeight = 1/N by `numExamples`,
 *
 * so that with a per-example data loss the model minimises the negative
 * ELBO per example. The KL is exact for the Gaussian prior and a one-sample
 * Monte Carlo estimate `log q(w) − log p(w)` otherwise (scale mixture).
 * Once per application, whatever the batch size; recorded at training and
 * during full-objective evaluation (`model.evaluate`, `tfv.evaluateObjective`),
 * never by `predict`.
 *
 * Estimators (`estimator`), all unbiased for the same objective:
 * - `'reparameterization'` — `W = μ + σ ⊙ ε` once per batch (Blundell et al. 2015);
 * - `'localReparameterization'` — `y = xμ + √(x²σ²) ⊙ ζ` per example (Kingma
 *   et al. 2015, arXiv:1506.02557);
 * - `'flipout'` — `y = xμ + ((x ⊙ s)(σ ⊙ ε)) ⊙ r` with random signs s, r per
 *   example (Wen et al. 2018, arXiv:1803.04386).
 * See `dense_estimators.ts` for each one's formulas with the bias.
 *
 * At training the layer always samples; at inference it samples
 * (`inferenceMode: 'sample'`, default: call `predict` repeatedly for Monte
 * Carlo predictions) or uses the posterior mean (`'mean'`).
 *
 * **Input:** `[batch, ..., inputDim]`. **Output:** `[batch, ..., units]`.
 */
export class BayesianDense extends DivergenceLayer {
  /** @nocollapse */
  static className = 'BayesianDense';

  readonly units: number;
  readonly useBias: boolean;
  readonly bayesianBias: boolean;
  readonly estimator: BayesianDenseEstimator;
  readonly prior: Prior;
  readonly numExamples: number|undefined;
  readonly seed: number|undefined;
  private mode: InferenceMode;
  private readonly klWeightArg: number|undefined;
  /** The divergence's scale in the ELBO per example: 1/N, or `klWeight` as given. */
  private readonly elboScale: number;
  private readonly activationLayer: tfl.layers.Layer;
  private readonly initializers: {kernelLoc: Initializer, kernelRho: Initializer, biasLoc: Initializer, biasRho: Initializer};
  private inputDim = -1;
  private kernelLoc: LayerVariable|null = null;
  private kernelRho: LayerVariable|null = null;
  private biasLoc: LayerVariable|null = null;
  private biasRho: LayerVariable|null = null;

  constructor(args: BayesianDenseArgs) {
    const where = 'bayesianDense';
    if (args == null || typeof args !== 'object') {
      throw argumentError(where, 'args', 'an options object with units and numExamples (or klWeight)', args);
    }
    checkKnownOptions(where, args, BAYESIAN_DENSE_ARG_NAMES);
    const {numExamples, klWeight} = args;
    if (numExamples != null && klWeight != null) {
      throw new Error(`${where}: expected only one of numExamples and klWeight. ` +
          `Received: numExamples=${numExamples}, klWeight=${klWeight}`);
    }
    if (numExamples == null && klWeight == null) {
      throw new Error(`${where}: expected numExamples (the training set size N; the KL divergence is scaled by 1/N) ` +
          `or klWeight (its multiplier). Received: numExamples=${numExamples}, klWeight=${klWeight}`);
    }
    const n = numExamples == null ? undefined : checkPositiveInteger(where, 'numExamples', numExamples);
    const w = klWeight == null ? undefined : checkNonNegative(where, 'klWeight', klWeight);
    const seed = args.seed == null ? undefined : checkSeed(where, 'seed', args.seed);
    // β starts at klWeight, or 1/N so the divergence is per example like the data term.
    super(args, w ?? 1 / n!, seed);
    this.numExamples = n;
    this.klWeightArg = w;
    this.elboScale = w ?? 1 / n!;
    this.seed = seed;
    this.units = checkPositiveInteger(where, 'units', args.units);
    this.useBias = args.useBias == null ? true : checkBoolean(where, 'useBias', args.useBias);
    this.bayesianBias = args.bayesianBias == null ? false : checkBoolean(where, 'bayesianBias', args.bayesianBias);
    if (this.bayesianBias && !this.useBias) {
      throw argumentError(where, 'bayesianBias', 'false when useBias is false', this.bayesianBias);
    }
    this.estimator = args.estimator == null ? 'reparameterization' : checkOneOf(where, 'estimator', args.estimator, ESTIMATORS);
    this.prior = resolvePrior(where, args.prior, args.priorScale);
    this.mode = args.inferenceMode == null ? 'sample' : checkInferenceMode(where, args.inferenceMode);
    this.activationLayer = makeActivation(where, args.activation ?? 'linear', `${this.name}_activation`);
    this.initializers = {
      kernelLoc: resolveInitializer(where, 'kernelLocInitializer', args.kernelLocInitializer ?? 'glorotNormal'),
      kernelRho: args.kernelUntransformedScaleInitializer == null ? defaultUntransformedScale() :
          resolveInitializer(where, 'kernelUntransformedScaleInitializer', args.kernelUntransformedScaleInitializer),
      biasLoc: resolveInitializer(where, 'biasLocInitializer', args.biasLocInitializer ?? 'zeros'),
      biasRho: args.biasUntransformedScaleInitializer == null ? defaultUntransformedScale() :
          resolveInitializer(where, 'biasUntransformedScaleInitializer', args.biasUntransformedScaleInitializer),
    };
    this.inputSpec = [new tfl.InputSpec({minNDim: 2})];
  }

  /**
   * What the layer does outside training: `'sample'` draws weights (Monte
   * Carlo predictions), `'mean'` uses the posterior mean. Settable at any
   * time (e.g. `layer.inferenceMode = 'mean'` for a deterministic
   * prediction); saved in the config.
   */
  get inferenceMode(): InferenceMode {
    return this.mode;
  }

  set inferenceMode(mode: InferenceMode) {
    this.mode = checkInferenceMode('bayesianDense', mode);
  }

  override build(inputShape: Shape|Shape[]): void {
    const shape = singleShape(inputShape);
    const inputDim = shape[shape.length - 1];
    if (inputDim == null) {
      throw new Error(`bayesianDense: expected the input's last axis (inputDim) to be known. Received: input shape=${showShape(shape)}`);
    }
    this.inputDim = inputDim;
    const kernelShape = [inputDim, this.units];
    const init = this.initializers;
    this.kernelLoc = this.addWeight('kernel_loc', kernelShape, 'float32', init.kernelLoc);
    this.kernelRho = this.addWeight('kernel_untransformed_scale', kernelShape, 'float32', init.kernelRho);
    if (this.useBias) this.biasLoc = this.addWeight('bias_loc', [this.units], 'float32', init.biasLoc);
    if (this.bayesianBias) this.biasRho = this.addWeight('bias_untransformed_scale', [this.units], 'float32', init.biasRho);
    this.addDivergenceWeight();
    this.inputSpec = [new tfl.InputSpec({minNDim: 2, axes: {[-1]: inputDim}})];
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape|Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override apply(inputs: SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  /** The result of another layer's `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (Array.isArray(inputs) && inputs.length !== 1) {
        throw new Error(`bayesianDense: expected one input tensor. Received: ${inputs.length} inputs`);
      }
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const training = kwargs['training'] === true;
      const key = this.divergenceKey([x], kwargs);
      const q = this.posterior();
      const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, this.inputDim]);
      const n = x2.shape[0];
      // Draw order per application (fixed, so seeded runs repeat): the
      // estimator's noise as listed, then, if the prior needs a sample the
      // estimator did not provide, the kernel's then the bias's KL noise.
      let kernelEps: tf.Tensor|null = null;
      let biasEps: tf.Tensor|null = null;
      let y: tf.Tensor;
      if (!training && this.mode === 'mean') {
        y = denseMean(x2, q);
      } else if (this.estimator === 'localReparameterization') {
        y = denseLocalReparameterization(x2, q, {output: this.normal([n, this.units])});
      } else {
        kernelEps = this.normal([this.inputDim, this.units]);
        biasEps = q.biasScale === null ? null : this.normal([this.units]);
        y = this.estimator === 'reparameterization' ?
            denseReparameterization(x2, q, {kernel: kernelEps, bias: biasEps}) :
            denseFlipout(x2, q, {
              kernel: kernelEps, bias: biasEps,
              inputSigns: randomSigns([n, this.inputDim], this.seeds.next()),
              outputSigns: randomSigns([n, this.units], this.seeds.next()),
            });
      }
      if (key !== null) this.recordWeightDivergence(key, q, kernelEps, biasEps);
      if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
      return this.activationLayer.apply(y) as tf.Tensor;
    });
  }



  /** The posterior's parameters with positive scales (tensors in the caller's scope). */
  private posterior(): DensePosterior {
    if (this.kernelLoc === null || this.kernelRho === null) {
      throw new Error(`bayesianDense: layer '${this.name}' is not built yet; apply it to inputs first`);
    }
    return {
      kernelLoc: this.kernelLoc.read(),
      kernelScale: softplusScale(this.kernelRho.read()),
      biasLoc: this.biasLoc === null ? null : this.biasLoc.read(),
      biasScale: this.biasRho === null ? null : softplusScale(this.biasRho.read()),
    };
  }

  private normal(shape: number[]): tf.Tensor {
    return tf.randomNormal(shape, 0, 1, 'float32', this.seeds.next());
  }

  /**
   * Records `klWeight · KL(q ‖ p)` for this application, and for the logs
   * `KL(q ‖ p) / N` (or `· klWeight` as constructed): the term of the
   * per-example negative ELBO.
   */
  private recordWeightDivergence(key: string, q: DensePosterior, kernelEps: tf.Tensor|null, biasEps: tf.Tensor|null): void {
    const needsNoise = !this.prior.hasAnalyticKL;
    if (needsNoise && kernelEps === null) kernelEps = this.normal(q.kernelLoc.shape);
    if (needsNoise && q.biasScale !== null && biasEps === null) biasEps = this.normal([this.units]);
    tf.tidy(() => {
      let kl = this.prior.divergence(q.kernelLoc, q.kernelScale, kernelEps);
      if (q.biasLoc !== null && q.biasScale !== null) {
        kl = tf.add(kl, this.prior.divergence(q.biasLoc, q.biasScale, biasEps));
      }
      this.recordDivergence(key, kl, tf.mul(kl, this.elboScale) as tf.Scalar);
    });
  }

  /** Sets the divergence's multiplier (≥ 0) for the following steps (e.g. annealing from 0 to 1/N). */
  override setKLWeight(weight: number): void {
    super.setKLWeight(weight);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      units: this.units,
      activation: this.activationLayer.getConfig()['activation'],
      useBias: this.useBias,
      bayesianBias: this.bayesianBias,
      estimator: this.estimator,
      prior: serializePrior(this.prior),
      numExamples: this.numExamples ?? null,
      klWeight: this.klWeightArg ?? null,
      inferenceMode: this.mode,
      seed: this.seed ?? null,
      kernelLocInitializer: serializeInitializer(this.initializers.kernelLoc),
      kernelUntransformedScaleInitializer: serializeInitializer(this.initializers.kernelRho),
      biasLocInitializer: serializeInitializer(this.initializers.biasLoc),
      biasUntransformedScaleInitializer: serializeInitializer(this.initializers.biasRho),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(BayesianDense, SERIALIZATION_PACKAGE);

function showShape(shape: Shape): string {
  return `[${shape.map(String).join(', ')}]`;
}

function singleShape(inputShape: Shape|Shape[]): Shape {
  const shape = Array.isArray(inputShape[0]) ? (inputShape as Shape[])[0] : inputShape as Shape;
  if (Array.isArray(inputShape[0]) && inputShape.length !== 1) {
    throw new Error(`bayesianDense: expected one input. Received: ${inputShape.length} inputs`);
  }
  if (shape.length < 2) {
    throw new Error(`bayesianDense: expected the input to have rank >= 2 ([batch, ..., inputDim]). Received: input shape=${showShape(shape)}`);
  }
  return shape;
}

function resolvePrior(where: string, prior: PriorIdentifier|undefined, priorScale: number|undefined): Prior {
  if (priorScale != null) {
    if (prior != null && prior !== 'gaussian') {
      throw argumentError(where, 'priorScale', 'given only with the Gaussian prior (prior \'gaussian\' or unset)', priorScale);
    }
    return resolveRegisteredPrior(where, 'priorScale', {className: 'GaussianPrior', config: {scale: checkPositive(where, 'priorScale', priorScale)}});
  }
  return resolveRegisteredPrior(where, 'prior', prior ?? 'gaussian');
}

/**
 * A dense layer with a Gaussian weight posterior (Bayes by Backprop):
 * `y = activation(x W + b)` with `W ~ N(μ, σ²)` sampled by `estimator`,
 * adding `klWeight · KL(q(W) ‖ p(W))` to the model's loss.
 *
 * **Input:** `[batch, ..., inputDim]`. **Output:** `[batch, ..., units]`.
 *
 * References: Blundell et al. 2015 (arXiv:1505.05424); Kingma, Salimans &
 * Welling 2015 (arXiv:1506.02557); Wen et al. 2018 (arXiv:1803.04386).
 *
 * ```js
 * const model = tf.sequential({layers: [
 *   tfv.layers.bayesianDense({inputShape: [13], units: 32, activation: 'relu', numExamples: N, estimator: 'flipout'}),
 *   tfv.layers.bayesianDense({units: 1, numExamples: N, estimator: 'flipout'}),
 * ]});
 * model.compile({optimizer: tf.train.adam(1e-2), loss: tfv.losses.gaussianNLL({scale: 1})});
 * await model.fit(x, y, {epochs: 100});
 * const draws = Array.from({length: 20}, () => model.predict(xTest));  // Monte Carlo predictions
 * ```
 */
export function bayesianDense(args: BayesianDenseArgs): BayesianDense {
  return new BayesianDense(args);
}
