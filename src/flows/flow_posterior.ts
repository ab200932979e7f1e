/**
 * A normalizing-flow posterior as one latent layer: a diagonal Gaussian base
 * sample pushed through a stack of flows, with the Monte Carlo KL of the
 * result added through the divergence base, and per-sample log-weights for
 * bound losses (Rezende & Mohamed 2015, arXiv:1505.05770, §4; Kingma et al.
 * 2016, arXiv:1606.04934).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {HALF_LOG_TWO_PI, halfSquare, sampleFromLogVariance} from '../distributions/normal';
import {isCollectingLayerLosses} from '../engine/layer_losses';
import {estimationSamples, recordLogWeights} from '../engine/log_weights';
import type {AnyTensor, LayerIO, SymbolicTensor} from '../layers/apply_types';
import {DivergenceLayer} from '../layers/divergence_layer';
import {checkInferenceMode, InferenceMode, markStochasticLayer} from '../layers/inference_mode';
import {KLPrior, KLPriorSpec, resolveKLPrior} from '../layers/kl_prior';
import {sumEvent} from '../layers/latent_prior';
import {repeatRows} from '../layers/reparameterize';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import type {Kwargs, LayerArgs, LayerVariable, Shape} from '../util/tfjs_types';
import {argumentError, checkKnownOptions, checkNonNegative, checkPositiveInteger, checkSeed, LAYER_ARG_NAMES} from '../util/validate';
import {FlowLayer} from './flow_layer';

export interface FlowPosteriorArgs extends LayerArgs {
  /**
   * The flows f_1 … f_K, applied in order to the base sample: flow layers of
   * `tfv.flows` (`planarFlow`, `radialFlow`, `inverseAutoregressiveFlow`),
   * or their `{className, config}`. Global flows hold their own weights
   * (weights of this layer); amortized ones (`amortized: true`) take their
   * parameters per example from the layer's third input.
   */
  flows: Array<FlowLayer|{className: string, config?: tf.serialization.ConfigDict}>;
  /** Samples per example, k ≥ 1 (`[batch·k, d]` out, example-major, as `reparameterize`). Default 1. */
  samples?: number;
  /** The prior p(z_K), as `klDivergence`'s `prior` (standard normal, a fixed or a learned distribution). */
  prior?: KLPriorSpec;
  /** β, the multiplier of the KL (non-trainable weight `kl_weight`). Default 1. */
  weight?: number;
  /** Outside training: `'sample'` (default) draws; `'mean'` returns f_K∘…∘f_1(mu). Settable later. */
  inferenceMode?: InferenceMode;
  /** A non-negative integer making the noise repeatable (draw i uses a seed derived from `(seed, i)`). */
  seed?: number;
}

const ARG_NAMES = ['flows', 'samples', 'prior', 'weight', 'inferenceMode', 'seed', ...LAYER_ARG_NAMES];

function resolveFlow(where: string, spec: unknown, i: number): FlowLayer {
  let layer: unknown = spec;
  if (spec != null && typeof spec === 'object' && !(spec instanceof tfl.layers.Layer) &&
      typeof (spec as {className?: unknown}).className === 'string') {
    const {className, config} = spec as {className: string, config?: tf.serialization.ConfigDict};
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
    layer = entry === undefined ? undefined : entry[1](entry[0], config ?? {});
  }
  if (!(layer instanceof FlowLayer)) {
    throw argumentError(where, `flows[${i}]`, 'a flow layer of tfv.flows or its {className, config}',
        spec instanceof tfl.layers.Layer ? spec.getClassName() : spec);
  }
  return layer as FlowLayer;
}

/**
 * `z_K = f_K ∘ … ∘ f_1(z_0)`, `z_0 = mu + e^{logVar/2} ⊙ ε`, with the flow
 * posterior's density by the change of variables,
 *
 *     log q(z_K | x) = log N(z_0; mu, e^logVar) − Σ_k log |det ∂f_k/∂z_{k−1}|,
 *
 * and, through `addLoss`, β times the Monte Carlo KL per example
 *
 *     KL(q ‖ p) ≈ mean_s [ log q(z_K^s | x) − log p(z_K^s) ]
 *
 * (batch mean). With a bound loss of `tfv.objectives` the layer records
 * `log p(z_K) − log q(z_K|x)` per sample instead, so IWAE and
 * `estimateLogLikelihood` work with flow posteriors unchanged.
 *
 * **Input:** `[mu, logVar]` `[batch, d]` each, or `[mu, logVar, params]` with
 * `params` `[batch, P]` the amortized flows' per-example parameters,
 * concatenated in flow order (P = Σ of their `paramSize(d)`).
 * **Output:** `[batch·samples, d]`.
 */
export class FlowPosterior extends DivergenceLayer {
  /** @nocollapse */
  static className = 'FlowPosterior';

  readonly flows: FlowLayer[];
  readonly samples: number;
  readonly seed: number|undefined;
  private readonly prior: KLPrior;
  private mode: InferenceMode;
  private emitting = false;
  private covered = false;
  private latentSize = -1;
  /** True while `dispose` lets tfjs dispose this layer's own weights (the flows dispose theirs). */
  private disposingOwn = false;

  constructor(args: FlowPosteriorArgs) {
    const where = 'flowPosterior';
    if (args == null || typeof args !== 'object') throw argumentError(where, 'args', 'an options object with flows', args);
    checkKnownOptions(where, args, ARG_NAMES);
    const seed = args.seed == null ? undefined : checkSeed(where, 'seed', args.seed);
    super(args, args.weight === undefined ? 1 : checkNonNegative(where, 'weight', args.weight), seed);
    if (!Array.isArray(args.flows) || args.flows.length === 0) {
      throw argumentError(where, 'flows', 'a non-empty array of flow layers', args.flows);
    }
    this.flows = args.flows.map((f, i) => resolveFlow(where, f, i));
    this.samples = args.samples == null ? 1 : checkPositiveInteger(where, 'samples', args.samples);
    this.seed = seed;
    this.prior = resolveKLPrior(where, args.prior);
    this.mode = args.inferenceMode == null ? 'sample' : checkInferenceMode(where, args.inferenceMode);
    markStochasticLayer(this);
  }

  /** See `FlowPosteriorArgs.inferenceMode`; saved in the config. */
  get inferenceMode(): InferenceMode {
    return this.mode;
  }

  set inferenceMode(mode: InferenceMode) {
    this.mode = checkInferenceMode('flowPosterior', mode);
  }

  /** Columns of the third input: the amortized flows' parameters for a latent of size `d`. */
  paramSize(d: number): number {
    return this.flows.reduce((n, f) => n + f.paramSize(d), 0);
  }

  override build(inputShape: Shape|Shape[]): void {
    const shapes = Array.isArray(inputShape[0]) ? inputShape as Shape[] : [inputShape as Shape];
    if (shapes.length !== 2 && shapes.length !== 3) {
      throw new Error(`flowPosterior: expected inputs [mu, logVar] or [mu, logVar, params]. Received: ${shapes.length} input(s)`);
    }
    const [mu, logVar] = shapes;
    const d = mu[mu.length - 1];
    if (mu.length !== 2 || logVar.length !== 2 || d == null || logVar[1] !== d) {
      throw new Error(`flowPosterior: expected mu and logVar of one shape [batch, d] with d known. ` +
          `Received: mu shape=[${mu.map(String)}], logVar shape=[${logVar.map(String)}]`);
    }
    const p = this.paramSize(d);
    const given = shapes.length === 3 ? shapes[2][shapes[2].length - 1] : 0;
    if (given !== p) {
      throw new Error(`flowPosterior: the amortized flows need params of shape [batch, ${p}] (${this.flows.length} flows, d = ${d}). ` +
          `Received: ${shapes.length === 3 ? `params shape=[${shapes[2].map(String)}]` : 'no params input'}`);
    }
    this.latentSize = d;
    for (const f of this.flows) {
      // Built through `apply` (on one zero row), so that each flow's weights are named in its own scope
      // (`<this>/<flow>/u`): built directly, every flow's `u` would be `<this>/u`, and saving needs unique names.
      const size = f.paramSize(d);
      if (!f.built) tf.tidy(() => f.apply(size > 0 ? [tf.zeros([1, d]), tf.zeros([1, size])] : tf.zeros([1, d])));
    }
    this.prior.build((name, shape, init) => this.addWeight(name, shape, 'float32', init), d, this.seed);
    this.addDivergenceWeight();
    this.built = true;
  }

  override get trainableWeights(): LayerVariable[] {
    if (this.disposingOwn) return super.trainableWeights;
    return this.trainable ? [...super.trainableWeights, ...this.flows.flatMap((f) => f.trainableWeights)] : [];
  }

  override get nonTrainableWeights(): LayerVariable[] {
    // tfjs's getter: the non-trainable weights, or every weight of a frozen layer; the flows' likewise.
    const own = super.nonTrainableWeights;
    if (this.disposingOwn) return own;
    return [...own, ...this.flows.flatMap((f) => (this.trainable ? f.nonTrainableWeights : f.weights))];
  }

  override computeOutputShape(inputShape: Shape|Shape[]): Shape {
    const mu = (Array.isArray(inputShape[0]) ? (inputShape as Shape[])[0] : inputShape) as Shape;
    return [mu[0] == null ? null : mu[0] * this.samples, ...mu.slice(1)];
  }

  override apply(inputs: SymbolicTensor[], kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor[], kwargs?: Kwargs): tf.Tensor;
  /** Results of other layers' `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: LayerIO[]|LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: LayerIO[]|LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs as LayerIO, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const [mu, logVar, params] = list;
      const estimating = estimationSamples();
      const emit = this.emitting && (kwargs['training'] === true || isCollectingLayerLosses() || estimating !== null);
      const k = emit && estimating !== null ? estimating : this.samples;
      const key = this.covered ? null : this.divergenceKey(list, kwargs);
      const p = params === undefined ? null : repeatRows(params, k);
      if (!emit && key === null && kwargs['training'] !== true && this.mode === 'mean') {
        return this.push(repeatRows(mu, k), p)[0];
      }
      const lv = repeatRows(logVar, k);
      const eps = tf.randomNormal([mu.shape[0] * k, this.latentSize], 0, 1, 'float32', this.seeds.next());
      const z0 = sampleFromLogVariance(repeatRows(mu, k), lv, eps);
      // log q0(z0) through the noise: −½ε² − ½logVar − ½log 2π per dimension (see reparameterize).
      const logQ0 = sumEvent(tf.sub(tf.sub(tf.neg(halfSquare(eps)), tf.mul(0.5, lv)), HALF_LOG_TWO_PI));
      const [zK, logDet] = this.push(z0, p);
      const logQ = tf.sub(logQ0, logDet);
      if (emit) {
        const logWeights = tf.sub(this.prior.latentPrior().logProb(zK), logQ);
        recordLogWeights(`flowPosterior '${this.name}'`, tf.reshape(logWeights, [mu.shape[0], k]));
      } else if (key !== null) {
        // Monte Carlo KL per example: the mean over its k samples, then over the batch.
        const kl = tf.mean(tf.sub(logQ, this.prior.latentPrior().logProb(zK))) as tf.Scalar;
        this.recordDivergence(key, kl, kl);
      }
      return zK;
    });
  }

  /** The flows applied in order, with the summed log-determinant `[rows]`. */
  private push(z: tf.Tensor, params: tf.Tensor|null): [tf.Tensor, tf.Tensor] {
    let logDet: tf.Tensor = tf.zeros([z.shape[0]]);
    let column = 0;
    for (const f of this.flows) {
      const size = f.paramSize(this.latentSize);
      const own = size === 0 || params === null ? undefined : tf.slice(params, [0, column], [-1, size]);
      column += size;
      const [next, ld] = f.forwardAndLogDet(z, own);
      z = next;
      logDet = tf.add(logDet, ld);
    }
    return [z, logDet];
  }

  /**
   * Bound mode (set by `compile` with a bound loss and by
   * `estimateLogLikelihood`): records per-sample log-weights instead of the
   * KL. The prior is the layer's own. Not saved in the config.
   *
   * @internal
   */
  setLogWeightEmission(on: boolean): void {
    this.emitting = on;
    this.covered = on;
  }

  /** Whether a bound loss holds this layer's divergence per sample. */
  get coveredByBound(): boolean {
    return this.covered;
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    // Each flow disposes its own weights; tfjs's dispose then sees this layer's own weights only (through
    // `this.weights`, which otherwise includes the flows': they would be disposed twice).
    const flows = this.flows.map((f) => f.dispose());
    this.disposingOwn = true;
    try {
      const own = super.dispose();
      return {refCountAfterDispose: own.refCountAfterDispose,
              numDisposedVariables: own.numDisposedVariables + flows.reduce((n, r) => n + r.numDisposedVariables, 0)};
    } finally {
      this.disposingOwn = false;
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      flows: this.flows.map((f) => ({className: f.getClassName(), config: f.getConfig()})),
      samples: this.samples,
      prior: this.prior.config,
      weight: this.initialKLWeight,
      inferenceMode: this.mode,
      seed: this.seed ?? null,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(FlowPosterior, SERIALIZATION_PACKAGE);

/**
 * A flow posterior: `z = f_K ∘ … ∘ f_1(mu + e^{logVar/2} ⊙ ε)`, adding the
 * Monte Carlo KL of the flow's density from the prior (see `FlowPosterior`).
 *
 * ```js
 * const z = tfv.flows.flowPosterior({flows: Array.from({length: 10}, () => tfv.flows.planarFlow())}).apply([zMu, zLogVar]);
 * ```
 */
export function flowPosterior(args: FlowPosteriorArgs): FlowPosterior {
  return new FlowPosterior(args);
}
