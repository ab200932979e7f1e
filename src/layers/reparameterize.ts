/**
 * The reparameterization trick: a differentiable sample from a diagonal
 * Gaussian given its mean and log-variance.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Kwargs, LayerArgs, Shape} from '../util/tfjs_types';

import {HALF_LOG_TWO_PI, halfSquare, sampleFromLogVariance} from '../distributions/normal';
import {isCollectingLayerLosses} from '../engine/layer_losses';
import {estimationSamples, recordLogWeights} from '../engine/log_weights';
import {SeedStream} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions, checkPositiveInteger, checkSeed, LAYER_ARG_NAMES} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {gaussianParamShape, ShapeArg, splitGaussianParams} from './gaussian_params';
import {checkInferenceMode, InferenceMode, markStochasticLayer} from './inference_mode';
import {LatentPrior, STANDARD_NORMAL, sumEvent} from './latent_prior';

export type {InferenceMode} from './inference_mode';

const REPARAMETERIZE_ARG_NAMES = ['samples', 'seed', 'inferenceMode', ...LAYER_ARG_NAMES];

export interface ReparameterizeArgs extends LayerArgs {
  /**
   * Samples drawn per example, k ≥ 1. With k > 1 the output stacks them
   * example-major along the batch axis: `[batch·k, ...event]`, row `b·k + s`
   * holding sample `s` of example `b`. The likelihood losses of `tfv.losses`
   * recognise this layout and average over the k samples. Default 1.
   */
  samples?: number;
  /**
   * A non-negative integer that makes the noise repeatable: the i-th call of the layer draws with a seed
   * derived from `(seed, i)`, so a run restarted with the same seed sees the
   * same sequence of draws while each step still gets fresh noise. The
   * sequence restarts with `resetSeed()` and for a freshly loaded model.
   * Default: unseeded.
   */
  seed?: number;
  /**
   * What the layer returns outside training (`predict`, `evaluate`):
   * `'sample'` (default) draws as in training — generation and an unbiased
   * held-out ELBO need it; `'mean'` returns `mu` (repeated `samples` times),
   * a deterministic encoding. Can be changed later through the
   * `inferenceMode` property.
   */
  inferenceMode?: InferenceMode;
}

/**
 * `mu + e^{logVar/2} ⊙ eps` — the sample for a given standard-normal `eps`,
 * finite wherever the true value is (see `sampleFromLogVariance`: at
 * logVar = 1000 and eps = 0 it is mu, not `∞·0 = NaN`).
 */
export function reparameterizeWithNoise(mu: tf.Tensor, logVar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  return sampleFromLogVariance(mu, logVar, eps);
}

/** Repeats each row k times along axis 0: `[B, ...] → [B·k, ...]`, row b·k+s = row b. */
export function repeatRows(x: tf.Tensor, k: number): tf.Tensor {
  if (k === 1) return tf.clone(x);
  return tf.tidy(() => {
    const [b, ...rest] = x.shape;
    const tiled = tf.tile(tf.expandDims(x, 1), [1, k, ...rest.map(() => 1)]);
    return tf.reshape(tiled, [b * k, ...rest]);
  });
}

/**
 * Draws `z ~ N(mu, diag(e^logVar))` by the reparameterization trick,
 *
 *     z = mu + e^{logVar/2} ⊙ ε,   ε ~ N(0, I),
 *
 * so that gradients flow to `mu` and `logVar` (Kingma & Welling 2014,
 * arXiv:1312.6114; Rezende et al. 2014, arXiv:1401.4082).
 *
 * At training it always samples. At inference it samples by default
 * (`inferenceMode: 'sample'`: `predict` of a VAE gives a stochastic
 * reconstruction, `evaluate` an unbiased ELBO estimate) or returns `mu`
 * (`inferenceMode: 'mean'`).
 *
 * **Input:** `[mu, logVar]`, two tensors `[batch, ...event]`, or one tensor
 * `[batch, ..., 2·d]` holding `mu` then `logVar` on its last axis.
 * **Output:** `[batch·samples, ...event]` (example-major, see `samples`).
 */
export class Reparameterize extends tfl.layers.Layer {
  /** @nocollapse */
  static className = 'Reparameterize';

  readonly samples: number;
  readonly seed: number|undefined;
  private mode: InferenceMode;
  private readonly seeds: SeedStream;
  /** Set by `compile` with a bound loss (and by `estimateLogLikelihood`): record per-sample log-weights. */
  private emitting = false;
  private prior: LatentPrior = STANDARD_NORMAL;

  constructor(args: ReparameterizeArgs = {}) {
    const where = 'reparameterize';
    checkKnownOptions(where, args, REPARAMETERIZE_ARG_NAMES);
    super(args);
    this.samples = args.samples === undefined ? 1 : checkPositiveInteger(where, 'samples', args.samples);
    this.seed = args.seed === undefined || args.seed === null ? undefined : checkSeed(where, 'seed', args.seed);
    this.mode = args.inferenceMode === undefined ? 'sample' : checkInferenceMode(where, args.inferenceMode);
    this.seeds = new SeedStream(this.seed);
    markStochasticLayer(this);
  }

  /**
   * What the layer returns outside training: `'sample'` (a draw) or
   * `'mean'` (`mu`). Settable at any time, e.g. `layer.inferenceMode =
   * 'mean'` for a deterministic encoding; saved in the config.
   */
  get inferenceMode(): InferenceMode {
    return this.mode;
  }

  set inferenceMode(mode: InferenceMode) {
    this.mode = checkInferenceMode('reparameterize', mode);
  }

  override computeOutputShape(inputShape: ShapeArg): Shape {
    const event = gaussianParamShape('reparameterize', inputShape);
    const batch = event[0];
    return [batch == null ? null : batch * this.samples, ...event.slice(1)];
  }

  /** `[mu, logVar]` (or one tensor holding both) in, the sample `z` out. */
  override apply(inputs: [SymbolicTensor, SymbolicTensor]|SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: [tf.Tensor, tf.Tensor]|tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  /** Results of other layers' `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: [LayerIO, LayerIO]|LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: [LayerIO, LayerIO]|LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs as LayerIO, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [mu, logVar] = splitGaussianParams('reparameterize', inputs);
      const estimating = estimationSamples();
      // Per-sample log-weights for a bound loss: at training, in a full-objective evaluation, or while
      // estimateLogLikelihood runs (which also sets the number of samples). They need a draw, whatever the mode.
      const emit = this.emitting && (kwargs['training'] === true || isCollectingLayerLosses() || estimating !== null);
      const k = emit && estimating !== null ? estimating : this.samples;
      const sample = emit || kwargs['training'] === true || this.mode === 'sample';
      const m = repeatRows(mu, k);
      if (!sample) return m;
      const lv = repeatRows(logVar, k);
      const eps = tf.randomNormal(m.shape, 0, 1, 'float32', this.seeds.next());
      const z = reparameterizeWithNoise(m, lv, eps);
      if (emit) {
        // log q(z|x) through the noise: −½ε² − ½logVar − ½log 2π per dimension — the density at z, with the
        // same total gradient (see normalLogProbOfNoise) — written with logVar itself (log σ = ½logVar: no
        // e^{logVar/2} to underflow). log p(z) under the latent's prior.
        const logQ = sumEvent(tf.sub(tf.sub(tf.neg(halfSquare(eps)), tf.mul(0.5, lv)), HALF_LOG_TWO_PI));
        const logWeights = tf.sub(this.prior.logProb(z), logQ);
        recordLogWeights(`reparameterize '${this.name}'`, tf.reshape(logWeights, [mu.shape[0], k]));
      }
      return z;
    });
  }

  /**
   * Switches the recording of per-sample log-weights `log p(z) − log q(z|x)`
   * (`[batch, samples]`) on or off, with the latent's prior (default N(0, I)).
   * `compile` with a bound loss of `tfv.objectives` and
   * `tfv.estimateLogLikelihood` call it; not saved in the config.
   *
   * @internal
   */
  setLogWeightEmission(on: boolean, prior: LatentPrior|null): void {
    this.emitting = on;
    this.prior = prior ?? STANDARD_NORMAL;
  }

  /** Restarts the seeded noise sequence from its first draw. */
  resetSeed(): void {
    this.seeds.reset();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      samples: this.samples,
      seed: this.seed === undefined ? null : this.seed,
      inferenceMode: this.mode,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(Reparameterize, SERIALIZATION_PACKAGE);

/**
 * `z = mu + e^{logVar/2} ⊙ ε` with `ε ~ N(0, I)`; `samples` draws per example.
 *
 * ```js
 * const z = tfv.layers.reparameterize({seed: 42}).apply([mu, logVar]);
 * ```
 */
export function reparameterize(args?: ReparameterizeArgs): Reparameterize {
  return new Reparameterize(args);
}
