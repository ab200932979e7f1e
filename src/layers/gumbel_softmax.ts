/**
 * The Gumbel-softmax (Concrete) layer: a differentiable relaxed one-hot
 * sample of a categorical latent, optionally straight-through, that adds the
 * latent's KL divergence from its prior.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Kwargs, LayerArgs, Shape} from '../util/tfjs_types';

import {discreteKL, gumbelNoise} from '../distributions/discrete';
import {FLOAT32_MAX} from '../distributions/normal';
import {concreteLogDensityOfLog, relaxedLogSample} from '../distributions/relaxed_one_hot_categorical';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  argumentError, checkBoolean, checkKnownOptions, checkNonNegative, checkOneOf, checkPositive, checkSeed, LAYER_ARG_NAMES,
} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {DivergenceLayer} from './divergence_layer';
import {markStochasticLayer} from './inference_mode';
import {ScalarWeight} from './scalar_weight';
import type {ShapeArg} from './gaussian_params';

/**
 * What `GumbelSoftmax` returns outside training: `'sample'` a draw as in
 * training, `'mode'` the one-hot vector of the most probable class
 * (`one_hot(argmax l)`), `'mean'` the class probabilities `softmax(l)` (the
 * mean of the one-hot categorical variable).
 */
export type GumbelSoftmaxInferenceMode = 'sample'|'mode'|'mean';

const INFERENCE_MODES: readonly GumbelSoftmaxInferenceMode[] = ['sample', 'mode', 'mean'];

/** Which divergence the layer adds: the categorical KL in closed form, or the relaxed (Concrete) KL by one sample. */
export type GumbelSoftmaxKL = 'categorical'|'relaxed';

/**
 * The prior over the K classes: `'uniform'`, or the probabilities (positive,
 * summing to 1) or logits of a categorical distribution, `[K]` numbers.
 */
export type GumbelSoftmaxPrior = 'uniform'|{probs: number[]}|{logits: number[]};

export interface GumbelSoftmaxArgs extends LayerArgs {
  /**
   * The temperature τ > 0 of the relaxation: small τ gives samples close to
   * one-hot vectors (and gradients of high variance), large τ smooth ones.
   * Stored as a non-trainable weight `temperature`, so
   * `tfv.callbacks.temperatureAnnealing` can lower it during `fit` and a
   * saved model keeps its current value. Default 1.
   */
  temperature?: number;
  /**
   * Straight-through (Bengio et al. 2013): the output is the exactly one-hot
   * `one_hot(argmax y)` of the relaxed sample y, and its gradient is y's.
   * Default false (the relaxed sample itself).
   */
  hard?: boolean;
  /**
   * The prior p over the K classes of each position: `'uniform'` (default,
   * `log p_c = −log K`), `{probs: [K]}` or `{logits: [K]}`. Saved in the config as given.
   */
  prior?: GumbelSoftmaxPrior;
  /**
   * Multiplier β of the divergence, the non-trainable weight `kl_weight`
   * (annealable by `tfv.callbacks.klAnnealing`). Default 1.
   */
  weight?: number;
  /**
   * The divergence added: `'categorical'` (default), the closed-form
   * `KL(Categorical(softmax(l)) ‖ p)`, as Jang et al.; or `'relaxed'`, the
   * one-sample estimate `log q(y) − log p(y)` of the KL between the Concrete
   * distributions of the posterior (temperature τ) and of the prior
   * (`priorTemperature`), as Maddison et al.
   */
  kl?: GumbelSoftmaxKL;
  /**
   * The temperature of the prior's Concrete distribution for `kl: 'relaxed'`
   * (> 0). Default: the layer's current temperature τ (it follows annealing).
   */
  priorTemperature?: number;
  /**
   * What the layer returns outside training: `'sample'` (default; a draw,
   * one-hot with `hard`), `'mode'` (`one_hot(argmax l)`) or `'mean'`
   * (`softmax(l)`). Can be changed later through the `inferenceMode` property.
   */
  inferenceMode?: GumbelSoftmaxInferenceMode;
  /**
   * A non-negative integer that makes the noise repeatable: the i-th draw of
   * the layer uses a seed derived from `(seed, i)`. Default: unseeded.
   */
  seed?: number;
}

const GUMBEL_SOFTMAX_ARG_NAMES =
    ['temperature', 'hard', 'prior', 'weight', 'kl', 'priorTemperature', 'inferenceMode', 'seed', ...LAYER_ARG_NAMES];

const WHERE = 'gumbelSoftmax';

/** A checked prior: its config, and its log-probabilities in double precision (`null` for uniform, whose K is the input's). */
interface ResolvedPrior {
  config: GumbelSoftmaxPrior;
  logProbs: number[]|null;
}

function resolvePrior(value: unknown): ResolvedPrior {
  if (value === undefined || value === 'uniform') return {config: 'uniform', logProbs: null};
  const expected = "'uniform', {probs: number[]} or {logits: number[]}";
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw argumentError(WHERE, 'prior', expected, value);
  const keys = Object.keys(value);
  if (keys.length !== 1 || (keys[0] !== 'probs' && keys[0] !== 'logits')) {
    throw new Error(`${WHERE}: expected prior to be ${expected}. Received: prior with keys ${JSON.stringify(keys)}`);
  }
  const name = keys[0] as 'probs'|'logits';
  const v = (value as Record<string, unknown>)[name];
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && (name === 'logits' || x > 0);
  if (!Array.isArray(v) || v.length < 2 || !v.every(ok)) {
    throw argumentError(WHERE, `prior.${name}`, `an array of at least 2 ${name === 'probs' ? 'positive' : 'finite'} numbers`, v);
  }
  const numbers = v as number[];
  if (name === 'probs') {
    const sum = numbers.reduce((s, p) => s + p, 0);
    if (!(Math.abs(sum - 1) <= 1e-6 * numbers.length)) {
      throw new Error(`${WHERE}: expected prior.probs to sum to 1. Received: [${numbers}] summing to ${sum}`);
    }
    return {config: {probs: numbers.slice()}, logProbs: numbers.map(Math.log)};
  }
  // log softmax in double precision, shifted by the maximum.
  const m = Math.max(...numbers);
  const z = Math.log(numbers.reduce((s, l) => s + Math.exp(l - m), 0));
  return {config: {logits: numbers.slice()}, logProbs: numbers.map((l) => l - m - z)};
}

/** The logits' shape, checked: rank ≥ 2 (`[batch, …, K]`) with K known and ≥ 2. */
function checkLogitsShape(inputShape: ShapeArg): Shape {
  // tf.sequential hands a single input over as a list of one.
  const list = Array.isArray(inputShape[0]) ? inputShape as Shape[] : [inputShape as Shape];
  if (list.length !== 1) {
    throw new Error(`${WHERE}: expected one input, the logits [batch, ..., K]. Received: ${list.length} inputs`);
  }
  const s = list[0];
  const k = s[s.length - 1];
  if (s.length < 2 || k == null || k < 2) {
    throw new Error(`${WHERE}: expected logits of shape [batch, ..., K] with K >= 2 classes known on the last axis. ` +
        `Received: input shape [${s.map(String)}]`);
  }
  return s;
}

/** `tf.customGrad` for a function of one tensor (its typing wants a variadic function). */
function customGrad1(
    f: (x: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[]}):
    (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/** `one_hot(argmax t)` over the last axis, float32 (the first maximum wins a tie). */
function oneHotOfArgmax(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.argMax(t, -1), t.shape[t.rank - 1]), 'float32'));
}

/**
 * The straight-through estimator: forward `one_hot(argmax y)`, exactly
 * one-hot; backward the identity, so the gradient reaching y is the one the
 * one-hot output received (tfjs has no `stopGradient` for the usual
 * `y_hard − stop(y) + y`, which would also not be exactly one-hot in float32).
 */
const straightThrough = customGrad1((y: tf.Tensor) => ({
  value: oneHotOfArgmax(y),
  gradFunc: (dy: tf.Tensor) => [tf.clone(dy)],
}));

/** The relaxed sample for given Gumbel noise: `softmax((l + g)/τ)`, computed as `exp(log softmax(…))` (see `relaxedLogSample`). */
export function gumbelSoftmaxWithNoise(logits: tf.Tensor, gumbel: tf.Tensor, temperature: number|tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.exp(relaxedLogSample(logits, gumbel, temperature)));
}

/**
 * A relaxed one-hot sample of a categorical latent from its logits `l`
 * (classes on the last axis), the Gumbel-softmax / Concrete relaxation
 * (Jang et al. 2017, arXiv:1611.01144; Maddison et al. 2017, arXiv:1611.00712):
 *
 *     y = softmax((l + g)/τ),   g_k = −log(−log u_k),  u_k ~ U(0, 1)
 *
 * differentiable in l, a point of the simplex that approaches the one-hot
 * vector of the class `argmax(l + g)` — distributed as softmax(l) — as τ → 0.
 * With `hard: true` the output is that one-hot vector exactly, `one_hot(argmax y)`,
 * with the gradient of y (straight-through; Bengio et al. 2013, arXiv:1308.3432).
 *
 * It adds, through `addLoss`, β times the batch mean of the divergence per
 * example, summed over the positions (every axis between the batch and the
 * class axes):
 *
 *     'categorical':  KL(q ‖ p) = Σ_c q_c (log q_c − log p_c),   q = softmax(l)
 *     'relaxed':      log q_τ(y) − log p_λ(y)                     (the Concrete densities at the drawn y)
 *
 * the first in closed form (Jang et al.; exact at probabilities 0), the
 * second a one-sample Monte Carlo estimate of the KL between the relaxed
 * posterior and the relaxed prior (Maddison et al.; unbiased, reparameterized),
 * both in log space (`RelaxedOneHotCategorical`). With `hard`, the relaxed
 * KL is taken at the relaxed y (the one-hot point has no density).
 *
 * The noise is drawn from uniforms clamped to [2⁻¹²⁶, 1 − 2⁻²⁴], so g is
 * finite; y is computed as `exp(log softmax(…))` after subtracting the row
 * maximum, finite at τ = 10⁻³ and logits ±10⁴. The divergence is recorded at
 * training and in a full-objective evaluation, never for `predict`. At
 * inference the layer samples (`inferenceMode: 'sample'`) or returns the
 * one-hot mode or `softmax(l)`.
 *
 * **Input:** logits `[batch, ..., K]`, K ≥ 2 known. **Output:** the same shape.
 */
export class GumbelSoftmax extends DivergenceLayer {
  /** @nocollapse */
  static className = 'GumbelSoftmax';

  readonly hard: boolean;
  readonly kl: GumbelSoftmaxKL;
  readonly priorTemperature: number|undefined;
  readonly seed: number|undefined;
  private readonly prior: ResolvedPrior;
  private readonly tau: ScalarWeight;
  private mode: GumbelSoftmaxInferenceMode;

  constructor(args: GumbelSoftmaxArgs = {}) {
    checkKnownOptions(WHERE, args, GUMBEL_SOFTMAX_ARG_NAMES);
    const seed = args.seed == null ? undefined : checkSeed(WHERE, 'seed', args.seed);
    super(args, args.weight === undefined ? 1 : checkNonNegative(WHERE, 'weight', args.weight), seed);
    this.seed = seed;
    this.tau = new ScalarWeight(args.temperature === undefined ? 1 : checkPositive(WHERE, 'temperature', args.temperature),
        'setTemperature', (t) => checkPositive('setTemperature', 'temperature', t), () => this.name);
    this.hard = args.hard === undefined ? false : checkBoolean(WHERE, 'hard', args.hard);
    this.prior = resolvePrior(args.prior);
    this.kl = args.kl === undefined ? 'categorical' : checkOneOf(WHERE, 'kl', args.kl, ['categorical', 'relaxed'] as const);
    this.priorTemperature = args.priorTemperature == null ? undefined : checkPositive(WHERE, 'priorTemperature', args.priorTemperature);
    if (this.priorTemperature !== undefined && this.kl !== 'relaxed') {
      throw new Error(`${WHERE}: priorTemperature is the temperature of the relaxed prior and needs kl: 'relaxed'. ` +
          `Received: kl='${this.kl}', priorTemperature=${this.priorTemperature}`);
    }
    this.mode = args.inferenceMode === undefined ? 'sample' : checkOneOf(WHERE, 'inferenceMode', args.inferenceMode, INFERENCE_MODES);
    markStochasticLayer(this);
  }

  /**
   * What the layer returns outside training: `'sample'`, `'mode'` or
   * `'mean'`. Settable at any time; saved in the config.
   */
  get inferenceMode(): GumbelSoftmaxInferenceMode {
    return this.mode;
  }

  set inferenceMode(mode: GumbelSoftmaxInferenceMode) {
    this.mode = checkOneOf(WHERE, 'inferenceMode', mode, INFERENCE_MODES);
  }

  /** The current temperature τ, read synchronously (on webgpu prefer `await readTemperature()`). */
  getTemperature(): number {
    return this.tau.get();
  }

  /** The current temperature τ, read asynchronously. */
  readTemperature(): Promise<number> {
    return this.tau.read();
  }

  /** Sets τ (> 0) for the following steps (e.g. from `tfv.callbacks.temperatureAnnealing`). */
  setTemperature(temperature: number): void {
    this.tau.set(temperature);
  }

  override build(inputShape: ShapeArg): void {
    const shape = checkLogitsShape(inputShape);
    const k = shape[shape.length - 1] as number;
    const p = this.prior.logProbs;
    if (p !== null && p.length !== k) {
      const name = Object.keys(this.prior.config)[0];
      throw new Error(`${WHERE}: expected prior.${name} to have K = ${k} entries (the last axis of the logits). ` +
          `Received: prior.${name} of length ${p.length}`);
    }
    this.tau.attach((name, init) => this.addWeight(name, [], 'float32', init, undefined, false), 'temperature');
    this.addDivergenceWeight();
    this.built = true;
  }

  override computeOutputShape(inputShape: ShapeArg): Shape {
    return checkLogitsShape(inputShape).slice();
  }

  /** Logits in, the (relaxed or one-hot) sample out, of the same shape. */
  override apply(inputs: SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  /** Results of other layers' `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      checkLogitsShape(list.map((t) => t.shape));
      const logits = list[0];
      const key = this.divergenceKey(list, kwargs);
      const sample = kwargs['training'] === true || this.mode === 'sample';
      const tau = this.tau.tensor();
      // The relaxed KL needs a draw also when the output is deterministic (an evaluation in 'mode' or 'mean').
      const logY = sample || (key !== null && this.kl === 'relaxed') ?
          relaxedLogSample(logits, gumbelNoise(logits.shape, this.seeds.next()), tau) : null;
      if (key !== null) {
        const perPosition = this.kl === 'relaxed' ? this.relaxedKL(logY as tf.Tensor, logits, tau) : this.categoricalKL(logits);
        // Per example: the sum over positions; then the batch mean (the same scale as a likelihood loss).
        const divergence = tf.div(tf.sum(perPosition), logits.shape[0]) as tf.Scalar;
        this.recordDivergence(key, divergence, divergence);
      }
      if (!sample) return this.mode === 'mode' ? oneHotOfArgmax(logits) : tf.exp(tf.logSoftmax(logits));
      const y = tf.exp(logY as tf.Tensor);
      return this.hard ? straightThrough(y) : y;
    });
  }

  /** `log p_c` of the prior, `[K]` (a new tensor). */
  private priorLogProbs(k: number): tf.Tensor {
    const p = this.prior.logProbs;
    return p === null ? tf.fill([k], -Math.log(k)) : tf.tensor1d(p, 'float32');
  }

  /** `Σ_c q_c (log q_c − log p_c)` per position, `q = softmax(l)` (log space: 0 where q_c underflows). */
  private categoricalKL(logits: tf.Tensor): tf.Tensor {
    const logQ = tf.logSoftmax(tf.clipByValue(logits, -FLOAT32_MAX, FLOAT32_MAX));
    return discreteKL(tf.exp(logQ), logQ, this.priorLogProbs(logits.shape[logits.rank - 1]));
  }

  /** `log q_τ(y) − log p_λ(y)` per position at `logY = log y` (the Concrete densities; their constants and Jacobians cancel). */
  private relaxedKL(logY: tf.Tensor, logits: tf.Tensor, tau: tf.Tensor|number): tf.Tensor {
    const priorTau = this.priorTemperature ?? tau;
    const logQ = concreteLogDensityOfLog(logY, logits, tau);
    const logP = concreteLogDensityOfLog(logY, this.priorLogProbs(logits.shape[logits.rank - 1]), priorTau);
    return tf.sub(logQ, logP);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      temperature: this.tau.initial,
      hard: this.hard,
      prior: JSON.parse(JSON.stringify(this.prior.config)),
      weight: this.initialKLWeight,
      kl: this.kl,
      priorTemperature: this.priorTemperature ?? null,
      inferenceMode: this.mode,
      seed: this.seed ?? null,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(GumbelSoftmax, SERIALIZATION_PACKAGE);

/**
 * A relaxed one-hot sample `softmax((l + g)/τ)` of a categorical latent,
 * adding `β · KL(q ‖ prior)` per example (batch mean); `hard: true` for the
 * straight-through one-hot sample. A categorical VAE with 20 latents of 10
 * classes:
 *
 * ```js
 * const logits = tf.layers.reshape({targetShape: [20, 10]}).apply(tf.layers.dense({units: 200}).apply(h));
 * const z = tfv.layers.gumbelSoftmax({temperature: 1, seed: 1}).apply(logits);   // [batch, 20, 10]
 * // fit with callbacks: [tfv.callbacks.temperatureAnnealing({rate: 1e-4})]
 * ```
 */
export function gumbelSoftmax(args?: GumbelSoftmaxArgs): GumbelSoftmax {
  return new GumbelSoftmax(args);
}
