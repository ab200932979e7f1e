/**
 * Likelihood losses: the data term `−log p(x|z)` of a variational objective,
 * as loss functions for `model.compile`. Each returns one value per example
 * (summed over every event dimension), so the compiled loss — tfjs-layers
 * takes its batch mean — is on the same per-example scale as a KL divergence
 * added by `tfv.layers.klDivergence`, and their sum is the negative ELBO.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Smallest probability the probability-space losses feed to `log`.
 * It is Keras's `epsilon()`, and it is the smallest round value for which
 * `1 − eps` is still below 1 in float32 (the spacing of float32 just below 1
 * is 2⁻²⁴ ≈ 6·10⁻⁸; with 1e-8, `1 − eps` rounds to exactly 1 and
 * `log1p(−1) = −∞`). Clipping to `[eps, 1 − eps]` caps each element's loss at
 * `−log eps ≈ 16.1` nats and its gradient at `1/eps = 10⁷`.
 */
export const PROBABILITY_EPSILON = 1e-7;

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * A loss for `model.compile`: `(yTrue, yPred) → [batch]`, plus
 * `perSample(yTrue, yPred) → [batch, samples]`, the same NLL before the
 * average over samples (for multi-sample bounds such as IWAE).
 */
export interface LikelihoodLoss {
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;
  /** Per-sample NLL, shape `[batch, samples]` (`samples` is 1 when `yPred` has one row per example). */
  perSample(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;
}

export interface BernoulliNLLArgs {
  /** `yPred` holds logits (any real) rather than probabilities in [0, 1]. Default false. */
  fromLogits?: boolean;
}

export interface GaussianNLLArgs {
  /**
   * Fixed standard deviation σ > 0 of every element. Default 1. Not allowed
   * together with `learnedVariance: true`.
   */
  scale?: number;
  /**
   * `yPred`'s last axis is twice `yTrue`'s: its first half is the mean, its
   * second half the log-variance (e.g. two decoder heads joined with
   * `tf.layers.concatenate`). Default false.
   */
  learnedVariance?: boolean;
}

export interface CategoricalNLLArgs {
  /** `yPred` holds logits rather than probabilities (e.g. a softmax output). Default false. */
  fromLogits?: boolean;
}

// ---------------------------------------------------------------------------
// Per-element NLLs. They broadcast like tf.sub, never reduce over the batch,
// and are what the factories below (and later bounds) are built from.
// ---------------------------------------------------------------------------

/**
 * Bernoulli NLL from logits `l`, per element:
 *
 *     nll = softplus(l) − x·l        (= −x·log σ(l) − (1−x)·log(1−σ(l)))
 *     ∂nll/∂l = σ(l) − x
 *
 * `tf.softplus` is computed without overflow for any float32 `l` and its
 * gradient is σ(l); the rewrite `max(l, 0) − x·l + log1p(e^{−|l|})` has the
 * same value but autodiff through `max`/`abs` gives a wrong gradient at l = 0.
 */
export function bernoulliNLLFromLogits(x: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.softplus(logits), tf.mul(x, logits)));
}

/**
 * Bernoulli NLL from probabilities `p`, per element, with
 * `p̃ = clip(p, eps, 1 − eps)` (see {@link PROBABILITY_EPSILON}):
 *
 *     nll = −x·log p̃ − (1−x)·log1p(−p̃)
 *
 * Finite for p exactly 0 or 1; there the clip passes no gradient (as in
 * Keras), so prefer logits when the model can saturate.
 */
export function bernoulliNLLFromProbs(x: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
    // log1p(−p̃) rather than log(1 − p̃): exact for small p̃ where the backend has a true log1p.
    return tf.neg(tf.add(tf.mul(x, tf.log(p)), tf.mul(tf.sub(1, x), tf.log1p(tf.neg(p)))));
  });
}

/**
 * Gaussian NLL with a fixed standard deviation σ, per element:
 *
 *     nll = ½·((x − μ)/σ)² + log σ + ½·log 2π
 */
export function gaussianNLLFixedScale(x: tf.Tensor, mean: tf.Tensor, scale = 1): tf.Tensor {
  checkScale('gaussianNLLFixedScale', scale);
  const constant = Math.log(scale) + 0.5 * LOG_2PI;  // in double precision, added once
  return tf.tidy(() => tf.add(tf.mul(0.5, tf.square(tf.div(tf.sub(x, mean), scale))), constant));
}

/**
 * Gaussian NLL with a learned log-variance v = log σ², per element:
 *
 *     nll = ½·((x − μ)²·e^{−v} + v + log 2π)
 *
 * The quadratic term is computed as `((x − μ)·e^{−v/2})²`: `e^{−v}` alone
 * overflows float32 for v < −88.7 even when the product is small, while
 * `e^{−v/2}` lasts to v ≈ −177. The result is finite whenever the true value
 * fits in float32; beyond that (e.g. |x − μ| = 10⁴ with v = −80, a loss of
 * 3·10⁴²) it is +∞, never NaN.
 */
export function gaussianNLLLearnedVariance(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.mul(tf.sub(x, mean), tf.exp(tf.mul(-0.5, logVar)));
    return tf.mul(0.5, tf.add(tf.add(tf.square(z), logVar), LOG_2PI));
  });
}

/**
 * Categorical NLL from logits along the last axis (reduces that axis):
 *
 *     nll = −Σ_c y_c · log softmax(l)_c,   log softmax(l) = l − logsumexp(l)
 *     ∂nll/∂l = softmax(l)·Σ_c y_c − y
 *
 * `tf.logSoftmax` is composed of Max/Sub/Exp/Sum/Log (max-shifted, so no
 * overflow) with a closed-form gradient; no backend needs a LogSoftmax
 * kernel, and it runs on wasm.
 */
export function categoricalNLLFromLogits(y: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), -1)));
}

/**
 * Categorical NLL from probabilities along the last axis (reduces that axis),
 * with `p̃ = clip(p, eps, 1)`:
 *
 *     nll = −Σ_c y_c · log p̃_c
 *
 * `p` is used as given (not renormalised): pass a softmax output. Only
 * `log p̃` appears, so probabilities of exactly 1 need no upper clip.
 */
export function categoricalNLLFromProbs(y: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(probs, PROBABILITY_EPSILON, 1))), -1)));
}

// ---------------------------------------------------------------------------
// Shapes and samples
// ---------------------------------------------------------------------------

function fmt(shape: number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Number of samples `k` per example: `yPred.shape[0] = k·yTrue.shape[0]`,
 * rows example-major (row `b·k + s` is sample `s` of example `b`), as
 * produced by `tfv.layers.reparameterize({samples: k})`. Also checks the
 * ranks and event shapes (`yPred`'s last axis is `lastAxisFactor` times
 * `yTrue`'s). `where` names the loss in error messages.
 */
export function samplesPerExample(
    where: string, yTrue: tf.Tensor, yPred: tf.Tensor, minRank = 1, lastAxisFactor = 1): number {
  for (const [name, t] of [['yTrue', yTrue], ['yPred', yPred]] as const) {
    if (!(t instanceof tf.Tensor)) {
      throw new Error(`${where}: expected ${name} to be a tf.Tensor. Received: ${name}=${String(t)}`);
    }
  }
  const shapes = `(yTrue shape ${fmt(yTrue.shape)}, yPred shape ${fmt(yPred.shape)})`;
  if (yTrue.rank < minRank) {
    throw new Error(`${where}: expected yTrue to have rank >= ${minRank} ([batch, ...event]). Received: ${shapes}`);
  }
  if (yPred.rank !== yTrue.rank) {
    throw new Error(`${where}: expected yPred to have the same rank as yTrue. Received: ${shapes}`);
  }
  const eventTrue = yTrue.shape.slice(1);
  const eventPred = yPred.shape.slice(1);
  const expected = eventTrue.map((d, i) => (i === eventTrue.length - 1 ? d * lastAxisFactor : d));
  if (expected.some((d, i) => d !== eventPred[i])) {
    const rule = lastAxisFactor === 1 ?
        'the same event (non-batch) shape as yTrue' :
        `a last axis ${lastAxisFactor}× yTrue's (mean, then log-variance) and otherwise yTrue's event shape`;
    throw new Error(
        `${where}: expected yPred to have ${rule}, i.e. event shape ${fmt(expected)}. ` +
        `Received: yPred event shape ${fmt(eventPred)} ${shapes}`);
  }
  const bTrue = yTrue.shape[0];
  const bPred = yPred.shape[0];
  if (bPred === bTrue) {
    return 1;
  }
  if (bTrue > 0 && bPred % bTrue === 0) {
    return bPred / bTrue;
  }
  throw new Error(
      `${where}: expected yPred's batch size to be yTrue's or an integer multiple k of it ` +
      `(k samples per example, example-major rows). Received: ${shapes}`);
}

/**
 * Applies a per-element NLL to `[batch·k, ...]` predictions and sums it over
 * the event axes: returns `[batch, k]`. `yTrue` is broadcast over the k
 * samples (reshaped to `[batch, 1, ...]`), never copied.
 */
function perSampleSum(
    elementNLL: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor, yTrue: tf.Tensor, yPred: tf.Tensor,
    k: number): tf.Tensor {
  return tf.tidy(() => {
    const batch = yTrue.shape[0];
    const t = tf.reshape(yTrue.dtype === 'float32' ? yTrue : tf.cast(yTrue, 'float32'), [batch, 1, ...yTrue.shape.slice(1)]);
    const p = tf.reshape(yPred, [batch, k, ...yPred.shape.slice(1)]);
    const e = elementNLL(t, p);
    if (e.rank === 2) {
      return e;
    }
    const eventAxes = Array.from({length: e.rank - 2}, (_, i) => i + 2);
    return tf.sum(e, eventAxes);
  });
}

/** Builds the compiled-loss function and its `perSample` twin, with a readable `name`. */
function makeLoss(
    name: string, minRank: number, lastAxisFactor: number,
    elementNLL: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor): LikelihoodLoss {
  const perSample = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    const k = samplesPerExample(name, yTrue, yPred, minRank, lastAxisFactor);
    return perSampleSum(elementNLL, yTrue, yPred, k);
  };
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    const k = samplesPerExample(name, yTrue, yPred, minRank, lastAxisFactor);
    return tf.tidy(() => tf.mean(perSampleSum(elementNLL, yTrue, yPred, k), 1));
  };
  // Non-enumerable: tfjs-layers' getTrainingConfig walks Object.keys of a
  // loss object, and a function must look like a plain loss function there.
  Object.defineProperty(loss, 'name', {value: name, configurable: true});
  Object.defineProperty(loss, 'perSample', {value: perSample, enumerable: false});
  return loss as LikelihoodLoss;
}

// ---------------------------------------------------------------------------
// Option checks
// ---------------------------------------------------------------------------

function checkOptions<T extends object>(where: string, args: T|undefined, known: Array<keyof T & string>): T {
  if (args == null) {
    return {} as T;
  }
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(`${where}: expected an options object. Received: ${String(args)}`);
  }
  const unknown = Object.keys(args).filter((key) => !(known as string[]).includes(key));
  if (unknown.length > 0) {
    throw new Error(`${where}: unknown option(s) ${unknown.join(', ')}. Known options: ${known.join(', ')}`);
  }
  return args;
}

function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (value === undefined) {
    return false;
  }
  if (typeof value !== 'boolean') {
    throw new Error(`${where}: expected ${name} to be a boolean. Received: ${name}=${JSON.stringify(value)}`);
  }
  return value;
}

function checkScale(where: string, scale: unknown): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new Error(`${where}: expected scale to be a positive finite number. Received: scale=${String(scale)}`);
  }
}

// ---------------------------------------------------------------------------
// Factories
// ---------------------------------------------------------------------------

/**
 * Bernoulli negative log-likelihood per example, for binary or [0, 1] data
 * (binarised or grey-level images):
 *
 *     logits:         nll_b = Σ_event softplus(l) − x·l
 *     probabilities:  nll_b = Σ_event −x·log p̃ − (1−x)·log(1−p̃),  p̃ = clip(p, 1e-7, 1−1e-7)
 *
 * **yTrue**: `[batch, ...event]`, values in [0, 1].
 * **yPred**: `[batch, ...event]`, or `[batch·k, ...event]` for k samples per
 * example (row `b·k + s` is sample `s` of example `b`; the k NLLs are averaged).
 * **Returns**: `[batch]`.
 *
 * ```js
 * vae.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
 * tfv.losses.bernoulliNLL({fromLogits: true})(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, -1]])).print();
 * // [0.4402]  = softplus(2) − 2 + softplus(−1)
 * ```
 */
export function bernoulliNLL(args?: BernoulliNLLArgs): LikelihoodLoss {
  const where = 'bernoulliNLL';
  const opts = checkOptions(where, args, ['fromLogits']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  return makeLoss(where, 1, 1, fromLogits ? bernoulliNLLFromLogits : bernoulliNLLFromProbs);
}

/**
 * Gaussian negative log-likelihood per example, for real-valued data:
 *
 *     fixed σ:          nll_b = Σ_event ½·((x − μ)/σ)² + log σ + ½·log 2π
 *     learnedVariance:  nll_b = Σ_event ½·((x − μ)²·e^{−v} + v + log 2π)
 *
 * With a fixed σ = 1 this is half the summed squared error plus a constant.
 * With `learnedVariance: true`, `yPred = concat([μ, v], -1)` where v is the
 * log-variance; nothing bounds v, so a decoder that fits some element exactly
 * can drive its NLL towards −∞ — bound v in the model (e.g. a tanh-scaled or
 * softplus head) if that happens.
 *
 * **yTrue**: `[batch, ...event]`.
 * **yPred**: like `yTrue` (fixed σ), or with a last axis twice `yTrue`'s
 * (`learnedVariance`); `[batch·k, ...]` for k samples per example, averaged.
 * **Returns**: `[batch]`.
 *
 * `model.fit` and `model.evaluate` check the targets against the model's
 * declared output shape, so end a learned-variance model with
 * `tfv.layers.gaussianOutput()`, which joins the two heads and declares the
 * last axis unknown: targets stay `[batch, d]`.
 *
 * ```js
 * vae.compile({optimizer: 'adam', loss: tfv.losses.gaussianNLL({scale: 0.1})});
 * const nll = tfv.losses.gaussianNLL({learnedVariance: true});
 * nll(tf.tensor2d([[1]]), tf.tensor2d([[0, 0]])).print();  // [1.4189]  = ½·(1 + 0 + log 2π)
 * ```
 */
export function gaussianNLL(args?: GaussianNLLArgs): LikelihoodLoss {
  const where = 'gaussianNLL';
  const opts = checkOptions(where, args, ['scale', 'learnedVariance']);
  const learnedVariance = checkBoolean(where, 'learnedVariance', opts.learnedVariance);
  if (learnedVariance) {
    if (opts.scale !== undefined) {
      throw new Error(
          `${where}: scale and learnedVariance: true exclude each other (the scale comes from yPred). ` +
          `Received: scale=${String(opts.scale)}`);
    }
    return makeLoss(where, 2, 2, (yTrue, yPred) => {
      const [mean, logVar] = tf.split(yPred, 2, -1);
      return gaussianNLLLearnedVariance(yTrue, mean, logVar);
    });
  }
  const scale = opts.scale === undefined ? 1 : opts.scale;
  checkScale(where, scale);
  return makeLoss(where, 1, 1, (yTrue, yPred) => gaussianNLLFixedScale(yTrue, yPred, scale));
}

/**
 * Categorical negative log-likelihood per example, classes on the last axis
 * (e.g. one pixel's 256 intensity levels, or a sequence of tokens):
 *
 *     logits:         nll_b = −Σ_event Σ_c y_c · log softmax(l)_c
 *     probabilities:  nll_b = −Σ_event Σ_c y_c · log clip(p_c, 1e-7, 1)
 *
 * **yTrue**: `[batch, ...event, classes]`, one-hot or probabilities.
 * **yPred**: the same shape, or `[batch·k, ...event, classes]` for k samples
 * per example, averaged.
 * **Returns**: `[batch]`.
 *
 * ```js
 * model.compile({optimizer: 'adam', loss: tfv.losses.categoricalNLL({fromLogits: true})});
 * tfv.losses.categoricalNLL({fromLogits: true})(tf.tensor2d([[0, 1]]), tf.tensor2d([[0, 0]])).print();
 * // [0.6931]  = log 2
 * ```
 */
export function categoricalNLL(args?: CategoricalNLLArgs): LikelihoodLoss {
  const where = 'categoricalNLL';
  const opts = checkOptions(where, args, ['fromLogits']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  return makeLoss(where, 2, 1, fromLogits ? categoricalNLLFromLogits : categoricalNLLFromProbs);
}
