/**
 * The base of the Bayesian linear layers (`BayesianDense`, `BayesianConv2D`):
 * the arguments they share (bias, estimator, prior, KL scale, inference
 * mode, seed, initialisers), their posterior weights (`VariationalWeight`
 * for the kernel and the bias), and one `call` path — pick the estimator,
 * apply it through the layer's linear operation, record the divergence.
 * A subclass checks its own arguments, computes shapes in `build` and
 * gives its `LinearOp`.
 *
 * At training the layer always samples, through its estimator. Outside
 * training it samples too (`inferenceMode: 'sample'`, Monte Carlo
 * predictions) or uses the posterior mean (`'mean'`, deterministic). The
 * divergence `klWeight · Σ KL(q ‖ p)` is recorded at training and during a
 * full-objective evaluation (`model.evaluate`, `tfv.evaluateObjective`),
 * once per application, never by `predict`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {randomSigns, standardNormal} from '../../distributions/random';
import {Prior, PriorIdentifier, resolvePrior as resolveRegisteredPrior, serializePrior} from '../../priors/prior';
import type {ActivationIdentifier, Initializer, LayerArgs, Shape} from '../../util/tfjs_types';
import {
  argumentError, checkBoolean, checkKnownOptions, checkNonNegative, checkPositive, checkPositiveInteger, checkSeed,
} from '../../util/validate';
import {DivergenceLayer} from '../divergence_layer';
import {checkInferenceMode, InferenceMode} from '../inference_mode';
import {InitializerSpec, resolveInitializer, serializeInitializer} from '../initializer_spec';
import {checkEstimator, getEstimator, LinearPosterior, meanOutput, NoiseSource} from './estimators';
import type {LinearOp} from './linear_ops';
import {VariationalWeight, WeightPosterior} from './variational_weight';

/** The estimators every Bayesian layer knows (see `estimators.ts`). */
export type VariationalEstimator = 'reparameterization'|'localReparameterization'|'flipout';

/** The arguments of the Bayesian layers besides their shape arguments. */
export const VARIATIONAL_ARG_NAMES: readonly string[] = [
  'activation', 'useBias', 'bayesianBias', 'estimator', 'prior', 'priorScale', 'numExamples', 'klWeight',
  'inferenceMode', 'seed', 'kernelLocInitializer', 'kernelUntransformedScaleInitializer', 'biasLocInitializer',
  'biasUntransformedScaleInitializer',
];

export interface VariationalLayerArgs extends LayerArgs {
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
   * `'localReparameterization'` (outputs sampled per example) or
   * `'flipout'` (one draw decorrelated per example by random signs).
   */
  estimator?: VariationalEstimator;
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

/** The shape of a layer's one input (`where`'s error for several). */
export function singleInputShape(where: string, inputShape: Shape|Shape[]): Shape {
  if (Array.isArray(inputShape[0]) && inputShape.length !== 1) {
    throw new Error(`${where}: expected one input. Received: ${inputShape.length} inputs`);
  }
  return Array.isArray(inputShape[0]) ? (inputShape as Shape[])[0] : inputShape as Shape;
}

/** A layer's one input tensor (`where`'s error for several). */
export function singleInputTensor(where: string, inputs: tf.Tensor|tf.Tensor[]): tf.Tensor {
  if (Array.isArray(inputs) && inputs.length !== 1) {
    throw new Error(`${where}: expected one input tensor. Received: ${inputs.length} inputs`);
  }
  return Array.isArray(inputs) ? inputs[0] : inputs;
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

function resolvePrior(where: string, prior: PriorIdentifier|undefined, priorScale: number|undefined): Prior {
  if (priorScale != null) {
    if (prior != null && prior !== 'gaussian') {
      throw argumentError(where, 'priorScale', 'given only with the Gaussian prior (prior \'gaussian\' or unset)', priorScale);
    }
    return resolveRegisteredPrior(where, 'priorScale', {className: 'GaussianPrior', config: {scale: checkPositive(where, 'priorScale', priorScale)}});
  }
  return resolveRegisteredPrior(where, 'prior', prior ?? 'gaussian');
}

export abstract class VariationalLinearLayer extends DivergenceLayer {
  readonly useBias: boolean;
  readonly bayesianBias: boolean;
  readonly estimator: VariationalEstimator;
  readonly prior: Prior;
  readonly numExamples: number|undefined;
  readonly seed: number|undefined;
  /** The factory's name, which errors start with (`'bayesianDense'`). */
  protected readonly where: string;
  private mode: InferenceMode;
  private readonly klWeightArg: number|undefined;
  /** The divergence's scale in the ELBO per example: 1/N, or `klWeight` as given. */
  private readonly elboScale: number;
  private readonly activationLayer: tfl.layers.Layer;
  private readonly initializers: {kernelLoc: Initializer, kernelRho: Initializer, biasLoc: Initializer, biasRho: Initializer};
  private kernelWeight: VariationalWeight|null = null;
  private biasWeight: VariationalWeight|null = null;
  private readonly noiseSource: NoiseSource;

  /**
   * @param where the factory's name, for errors
   * @param args the layer's arguments
   * @param argNames every argument the layer knows (its own, `VARIATIONAL_ARG_NAMES`, `LAYER_ARG_NAMES`)
   * @param shapeHint what the args must hold, for the error on a missing options object
   */
  protected constructor(where: string, args: VariationalLayerArgs, argNames: readonly string[], shapeHint: string) {
    if (args == null || typeof args !== 'object') {
      throw argumentError(where, 'args', `an options object with ${shapeHint} and numExamples (or klWeight)`, args);
    }
    checkKnownOptions(where, args, argNames);
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
    this.where = where;
    this.numExamples = n;
    this.klWeightArg = w;
    this.elboScale = w ?? 1 / n!;
    this.seed = seed;
    this.useBias = args.useBias == null ? true : checkBoolean(where, 'useBias', args.useBias);
    this.bayesianBias = args.bayesianBias == null ? false : checkBoolean(where, 'bayesianBias', args.bayesianBias);
    if (this.bayesianBias && !this.useBias) {
      throw argumentError(where, 'bayesianBias', 'false when useBias is false', this.bayesianBias);
    }
    this.estimator = args.estimator == null ? 'reparameterization' : checkEstimator(where, args.estimator) as VariationalEstimator;
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
    // Every draw of the layer goes through the seeded stream, in the order the estimator asks.
    this.noiseSource = {
      normal: (shape) => standardNormal(shape, this.seeds.next()),
      signs: (shape) => randomSigns(shape, this.seeds.next()),
    };
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
    this.mode = checkInferenceMode(this.where, mode);
  }

  /**
   * Creates the posterior weights — `kernel_loc`, `kernel_untransformed_scale`,
   * `bias_loc` (with `useBias`), `bias_untransformed_scale` (with
   * `bayesianBias`) — binds the prior to each Bayesian tensor, and adds
   * `kl_weight`. Call from `build`.
   */
  protected buildPosterior(kernelShape: number[], fanIn: number): void {
    const add = (name: string, shape: number[], init: Initializer, trainable: boolean) =>
      this.addWeight(name, shape, 'float32', init, undefined, trainable);
    const init = this.initializers;
    this.kernelWeight = new VariationalWeight({
      role: 'kernel', shape: kernelShape, fanIn, locInitializer: init.kernelLoc,
      untransformedScaleInitializer: init.kernelRho, prior: this.prior,
    }, add);
    if (this.useBias) {
      this.biasWeight = new VariationalWeight({
        role: 'bias', shape: [kernelShape[kernelShape.length - 1]], fanIn, locInitializer: init.biasLoc,
        untransformedScaleInitializer: this.bayesianBias ? init.biasRho : null, prior: this.prior,
      }, add);
    }
    this.addDivergenceWeight();
  }

  /**
   * The layer's output for `x` (already in the op's layout) through `op`:
   * the posterior mean outside training in `'mean'` mode, else the
   * estimator's sample; records the divergence when `key` is not null.
   * Returns the pre-activation output; `activate` applies the activation.
   */
  protected linearOutput(op: LinearOp, x: tf.Tensor, key: string|null, training: boolean): tf.Tensor {
    if (!training && this.mode === 'mean' && key === null) {
      // A plain prediction from the posterior mean needs no scale: μ and μ_b only.
      const kernelLoc = this.builtKernel().readLoc();
      return meanOutput(op, x, {kernelLoc, biasLoc: this.biasWeight === null ? null : this.biasWeight.readLoc()});
    }
    const strategy = getEstimator(this.estimator);
    const kernelWeight = this.builtKernel();
    const canFuse = strategy.sampleFused !== undefined &&
      (strategy.fusedKernel === 'variance' ? kernelWeight.canFuseVariance : kernelWeight.canFuseSample);
    if (!(!training && this.mode === 'mean') && canFuse) {
      // The kernel's sample (or variance terms) and its divergence from one fused op (no σ tensor), the same draws.
      const bias = this.biasWeight === null ? null : this.biasWeight.read();
      const sample = strategy.sampleFused!(op, x, {
        kernelLoc: kernelWeight.readLoc(),
        kernelSample: (eps, centered) => kernelWeight.fusedSample(eps, centered),
        // A Monte Carlo divergence draws its noise only when it is recorded (as the unfused path).
        kernelVarianceTerms: (biasScale) => kernelWeight.fusedVarianceTerms(biasScale, key === null ? null : this.noiseSource.normal),
        biasLoc: bias === null ? null : bias.loc, biasScale: bias === null ? null : bias.scale,
      }, this.noiseSource);
      if (key !== null) {
        this.recordWeightDivergence(key, null, bias, null, sample.biasEps, sample.kernelDivergence);
      } else if (sample.kernelDivergence !== undefined) {
        sample.kernelDivergence.dispose();  // no divergence is recorded for this call
      }
      return sample.output;
    }
    const {q, kernel, bias} = this.posterior();
    let y: tf.Tensor;
    let kernelEps: tf.Tensor|null = null;
    let biasEps: tf.Tensor|null = null;
    if (!training && this.mode === 'mean') {
      y = meanOutput(op, x, q);
    } else {
      const sample = strategy.sample(op, x, q, this.noiseSource);
      ({output: y, kernelEps, biasEps} = sample);
    }
    if (key !== null) this.recordWeightDivergence(key, kernel, bias, kernelEps, biasEps);
    return y;
  }

  protected activate(y: tf.Tensor): tf.Tensor {
    return this.activationLayer.apply(y) as tf.Tensor;
  }

  private builtKernel(): VariationalWeight {
    if (this.kernelWeight === null) {
      throw new Error(`${this.where}: layer '${this.name}' is not built yet; apply it to inputs first`);
    }
    return this.kernelWeight;
  }

  /** The posterior's parameters with positive scales (tensors in the caller's scope). */
  private posterior(): {q: LinearPosterior, kernel: WeightPosterior, bias: WeightPosterior|null} {
    const kernel = this.builtKernel().read();
    const bias = this.biasWeight === null ? null : this.biasWeight.read();
    const q: LinearPosterior = {
      kernelLoc: kernel.loc, kernelScale: kernel.scale as tf.Tensor,
      biasLoc: bias === null ? null : bias.loc, biasScale: bias === null ? null : bias.scale,
    };
    return {q, kernel, bias};
  }

  /**
   * Records `klWeight · KL(q ‖ p)` for this application, and for the logs
   * `KL(q ‖ p) / N` (or `· klWeight` as constructed): the term of the
   * per-example negative ELBO. A Monte Carlo divergence uses the
   * estimator's weight noise, or draws the kernel's then the bias's.
   */
  private recordWeightDivergence(key: string, kernel: WeightPosterior|null, bias: WeightPosterior|null,
      kernelEps: tf.Tensor|null, biasEps: tf.Tensor|null, kernelDivergence?: tf.Scalar): void {
    tf.tidy(() => {
      // The fused op's kernel divergence when it gave one (then `kernel` is null).
      let kl = kernelDivergence ?? this.kernelWeight!.divergence(kernel as WeightPosterior, kernelEps, this.noiseSource.normal);
      if (this.biasWeight !== null && bias !== null && this.biasWeight.isBayesian) {
        kl = tf.add(kl, this.biasWeight.divergence(bias, biasEps, this.noiseSource.normal));
      }
      this.recordDivergence(key, kl, tf.mul(kl, this.elboScale) as tf.Scalar);
    });
  }

  /** Sets the divergence's multiplier (≥ 0) for the following steps (e.g. annealing from 0 to 1/N). */
  override setKLWeight(weight: number): void {
    super.setKLWeight(weight);
  }

  /** The shared arguments' config (the subclass adds its own and `super.getConfig()`). */
  protected variationalConfig(): tf.serialization.ConfigDict {
    return {
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
    };
  }
}
