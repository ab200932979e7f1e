/**
 * Likelihood losses: the data term `−log p(x|z)` of a variational objective,
 * as loss functions for `model.compile`. Each returns one value per example
 * (summed over every event dimension), so the compiled loss — tfjs-layers
 * takes its batch mean — is on the same per-example scale as a KL divergence
 * added by `tfv.layers.klDivergence`, and their sum is the negative ELBO.
 */
import * as tf from '@tensorflow/tfjs-core';

import {broadcastPair, halfSquare, mulByPositiveConstant} from '../distributions/normal';

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
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is outside [0, 1] or NaN, e.g.
   * `bernoulliNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 255]`.
   * It catches raw 0–255 pixels or a NaN in the data before they silently
   * turn training NaN. It costs three reductions and one synchronous device read
   * per call: on a `[256, 784]` batch (the MNIST VAE's) 1.7 ms on the cpu
   * backend and 1.0 ms on wasm (2-core x86, Node 20), against that VAE's
   * 3.4 s and 69 ms training step (`bench/results.md`, vae-step), i.e. under
   * 0.1% and about 1.5%; on webgl/webgpu the read also stalls the pipeline
   * every step. Default false.
   */
  checkTargets?: boolean;
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
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is NaN or ±∞, e.g.
   * `gaussianNLL: expected yTrue (targets) to be finite. Received: targets in [-0.5, 1], and 3 NaN values`.
   * It catches raw 0–255 pixels or a NaN in the data before they silently
   * turn training NaN. It costs three reductions and one synchronous device read
   * per call: on a `[256, 784]` batch (the MNIST VAE's) 1.7 ms on the cpu
   * backend and 1.0 ms on wasm (2-core x86, Node 20), against that VAE's
   * 3.4 s and 69 ms training step (`bench/results.md`, vae-step), i.e. under
   * 0.1% and about 1.5%; on webgl/webgpu the read also stalls the pipeline
   * every step. Default false.
   */
  checkTargets?: boolean;
}

export interface CategoricalNLLArgs {
  /** `yPred` holds logits rather than probabilities (e.g. a softmax output). Default false. */
  fromLogits?: boolean;
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is outside [0, 1] (one-hot
   * or probabilities) or NaN, e.g.
   * `categoricalNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 9]`.
   * It catches raw 0–255 pixels or a NaN in the data before they silently
   * turn training NaN. It costs three reductions and one synchronous device read
   * per call: on a `[256, 784]` batch (the MNIST VAE's) 1.7 ms on the cpu
   * backend and 1.0 ms on wasm (2-core x86, Node 20), against that VAE's
   * 3.4 s and 69 ms training step (`bench/results.md`, vae-step), i.e. under
   * 0.1% and about 1.5%; on webgl/webgpu the read also stalls the pipeline
   * every step. Default false.
   */
  checkTargets?: boolean;
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
 * Finite for every finite l and x ∈ [0, 1] (|x·l| ≤ |l|, and softplus(l) ≤
 * max(l, 0) + log 2). For large |l| with x = 1 (or l ≪ 0 with x = 0) the two
 * terms cancel: the error is about 2⁻²⁴·|l| absolute, so a loss of e⁻³⁰ comes
 * out as 0. The cancellation-free `(1 − x)·softplus(l) + x·softplus(−l)` was
 * measured 50–60% slower (loss and gradient on [256, 784]: 8.7 vs 5.9 ms on
 * wasm, 59 vs 37 ms on cpu), for an absolute gain below 2⁻²⁴·|l| per element.
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
 *
 * With z = (x − μ)·(1/σ), the factor `1/σ` taken in double precision (and
 * applied in float32-sized pieces for a σ outside float32's range, where
 * rounding it alone gives ∞ or 0; see `mulByPositiveConstant`), the
 * half-square is `z·(½z)` (see `halfSquare`): squaring before halving would
 * overflow from |z| = 1.8·10¹⁹, where the loss still fits in float32, and
 * the gradient `z/σ` is then formed without an overflowing `2z`.
 */
export function gaussianNLLFixedScale(x: tf.Tensor, mean: tf.Tensor, scale = 1): tf.Tensor {
  checkScale('gaussianNLLFixedScale', scale);
  const constant = Math.log(scale) + 0.5 * LOG_2PI;  // in double precision, added once
  return tf.tidy(() => tf.add(halfSquare(mulByPositiveConstant(tf.sub(x, mean), 1 / scale)), constant));
}

/**
 * `|v| ≤ 170`: both `e^{−v/2}` and `e^{v/2}` (at most e⁸⁵ ≈ 8·10³⁶) are normal
 * float32 numbers, so the direct products below neither overflow in an
 * intermediate nor lose digits to subnormals; outside it the log-space forms
 * are used.
 */
const DIRECT_LOG_VARIANCE_LIMIT = 170;

/**
 * `½·d²·e^{−v}` with its exact gradient, `∂/∂d = d·e^{−v}` and
 * `∂/∂v = −½·d²·e^{−v}`, for d and v of one shape.
 *
 * For |v| ≤ 170 the value is `½t²` with `t = d·e^{−v/2}` (`e^{−v/2}` is a
 * normal float32 there, and t overflows only where the result does), and
 * the d-gradient `t·e^{−v/2}` (for v ≤ 0 the partial product t is at most
 * the result, for v > 0 at most d, so nothing overflows early). Beyond, in
 * log space with `u = log|d| − v/2 = log|t|`: the value `exp(2u − log 2)`
 * and the d-gradient `±exp(u − v/2)`. At v = −180, `e^{90}` alone is ∞ in
 * float32 and `0·∞` a NaN at d = 0, while the log-space forms give
 * `exp(−∞) = 0` there, and the exact value wherever it fits in float32 (the
 * exponent is rounded once, a relative error of about (|v| + |log|d||)·2⁻²⁴,
 * the sensitivity of e^{−v} to v's own float32 rounding). Both branches
 * share `e^{−v/2}`, `v/2` and `log|d|` with the gradient.
 *
 * A custom gradient because autodiff through the log-space branch gives
 * `e^{…}/|d|`, `0·∞` at d = 0, and `tf.where` passes a branch's NaN on even
 * where it selects the other.
 */
const halfQuadratic = tf.customGrad(((d: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
  const halfV = tf.mul(v, -0.5);  // −v/2
  const e = tf.exp(halfV);  // e^{−v/2}
  const t = tf.mul(d, e);
  const u = tf.add(tf.log(tf.abs(d)), halfV);  // log|t|, −∞ at d = 0
  const direct = tf.lessEqual(tf.abs(v), DIRECT_LOG_VARIANCE_LIMIT);
  const value = tf.where(direct, tf.mul(t, tf.mul(t, 0.5)), tf.exp(tf.sub(tf.add(u, u), Math.LN2)));
  save([d, e, t, u, halfV, direct, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sd, se, st, su, sHalfV, sDirect, sValue] = saved;
      const magnitude = tf.exp(tf.add(su, sHalfV));  // |d|·e^{−v}
      // The sign by comparison: the wasm backend's Sign kernel returns 0 for |d| below about 1e-7.
      const logSpace = tf.where(tf.less(sd, 0), tf.neg(magnitude), magnitude);
      return [tf.mul(dy, tf.where(sDirect, tf.mul(st, se), logSpace)), tf.neg(tf.mul(dy, sValue))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (d: tf.Tensor, v: tf.Tensor) => tf.Tensor;

/**
 * Gaussian NLL with a learned log-variance v = log σ², per element:
 *
 *     nll = ½·(x − μ)²·e^{−v} + ½·(v + log 2π)
 *     ∂nll/∂μ = −(x − μ)·e^{−v},   ∂nll/∂v = ½ − ½·(x − μ)²·e^{−v}
 *
 * The quadratic term and its gradient are evaluated by a custom gradient
 * that never forms an intermediate beyond float32's range: `e^{−v}` alone
 * overflows for v < −88.7 and `e^{−v/2}` for v < −177 even when the product
 * is small (at x = μ exactly, `0·∞` is NaN), so for |v| > 170 both go through
 * log space. The value and gradients are finite and accurate wherever the
 * true ones fit in float32 — for every v at x = μ (e.g. v = −1000 gives
 * −499.08, `∂/∂v = ½`); beyond that (e.g. |x − μ| = 10⁴ with v = −80, a loss
 * of 3·10⁴²) they are ±∞, never NaN.
 */
export function gaussianNLLLearnedVariance(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [d, v] = broadcastPair(tf.sub(x, mean), logVar);
    return tf.add(halfQuadratic(d, v), tf.mul(0.5, tf.add(v, LOG_2PI)));
  });
}

/**
 * `−Σ_c y_c·log softmax(l)_c` over the last axis, with its gradients
 * `∂/∂l = softmax(l)·Σ_c y_c − y` and `∂/∂y = −log softmax(l)`, for y and l of
 * one shape.
 *
 * A custom gradient because of one corner: when two logits of a row are more
 * than 3.4·10³⁸ apart (e.g. ±3·10³⁸), `l_c − max l` overflows float32 and
 * `log softmax(l)_c = −∞`; a class with y_c = 0 there must contribute 0 (the
 * limit of y·log p as y → 0), but `0·(−∞)` is NaN. The forward pass selects
 * 0 for those terms, and the gradients above are finite (∂/∂y is +∞ exactly
 * where the true −log softmax overflows). The logits' gradient is the closed
 * form, as in `tf.logSoftmax`.
 */
const categoricalLogitsNLL = tf.customGrad(((y: tf.Tensor, logits: tf.Tensor, save: tf.GradSaveFunc) => {
  const logProbs = tf.logSoftmax(logits);
  const terms = tf.where(tf.equal(y, 0), tf.zerosLike(logProbs), tf.mul(y, logProbs));
  save([y, logProbs]);
  return {
    value: tf.neg(tf.sum(terms, -1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sy, sLogProbs] = saved;
      const g = tf.expandDims(dy, -1);
      const softmax = tf.exp(sLogProbs);
      return [tf.neg(tf.mul(g, sLogProbs)), tf.mul(g, tf.sub(tf.mul(softmax, tf.sum(sy, -1, true)), sy))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (y: tf.Tensor, logits: tf.Tensor) => tf.Tensor;

/**
 * Categorical NLL from logits along the last axis (reduces that axis):
 *
 *     nll = −Σ_c y_c · log softmax(l)_c,   log softmax(l) = l − logsumexp(l)
 *     ∂nll/∂l = softmax(l)·Σ_c y_c − y
 *
 * `tf.logSoftmax` is composed of Max/Sub/Exp/Sum/Log (max-shifted, so no
 * overflow) with a closed-form gradient; no backend needs a LogSoftmax
 * kernel, and it runs on wasm. Classes with y_c = 0 contribute exactly 0,
 * also where their log-probability is below float32's range (logits more
 * than 3.4·10³⁸ apart), so the loss is finite wherever the true one is.
 */
export function categoricalNLLFromLogits(y: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [t, l] = broadcastPair(y.dtype === 'float32' ? y : tf.cast(y, 'float32'), logits);
    return categoricalLogitsNLL(t, l);
  });
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

/** The targets a loss accepts, for `checkTargets`. */
type TargetRange = 'unit'|'finite';

function formatTarget(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(7))) : String(v);
}

/**
 * Throws if `yTrue` holds a NaN or a value outside `range`. The common case
 * costs three reductions (min, max, sum) and one synchronous device read;
 * a NaN makes the sum NaN whatever the backend's min/max do with it. Only
 * when the targets fail is a second read made, for the error message: the
 * minimum and maximum of the non-NaN targets and the NaN count.
 */
export function checkTargetValues(where: string, yTrue: tf.Tensor, range: TargetRange): void {
  if (yTrue.size === 0) return;
  const read = (f: (t: tf.Tensor) => tf.Tensor[]): number[] => {
    const stats = tf.tidy(() => tf.stack(f(yTrue.dtype === 'float32' ? yTrue : tf.cast(yTrue, 'float32'))));
    const values = Array.from(stats.dataSync());
    stats.dispose();
    return values;
  };
  const [min, max, sum] = read((t) => [tf.min(t), tf.max(t), tf.sum(t)]);
  const inRange = (lo: number, hi: number): boolean =>
      range === 'unit' ? lo >= 0 && hi <= 1 : Number.isFinite(lo) && Number.isFinite(hi);
  if (!Number.isNaN(sum) && inRange(min, max)) return;
  const [lo, hi, nanCount] = read((t) => {
    const nan = tf.isNaN(t);
    return [
      tf.min(tf.where(nan, tf.fill(t.shape, Infinity), t)), tf.max(tf.where(nan, tf.fill(t.shape, -Infinity), t)),
      tf.sum(tf.cast(nan, 'float32')),
    ];
  });
  if (nanCount === 0 && inRange(lo, hi)) return;  // a sum of +∞ and −∞ is NaN too
  const expected = range === 'unit' ? 'in [0, 1]' : 'to be finite';
  const nanText = nanCount === 1 ? '1 NaN value' : `${nanCount} NaN values`;
  const received = nanCount === yTrue.size ? `targets all NaN (${nanText})` :
      `targets in [${formatTarget(lo)}, ${formatTarget(hi)}]${nanCount > 0 ? `, and ${nanText}` : ''}`;
  throw new Error(`${where}: expected yTrue (targets) ${expected}. Received: ${received}`);
}

/** Builds the compiled-loss function and its `perSample` twin, with a readable `name`. */
function makeLoss(
    name: string, minRank: number, lastAxisFactor: number,
    elementNLL: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor, targets: TargetRange|null = null): LikelihoodLoss {
  const check = (yTrue: tf.Tensor, yPred: tf.Tensor): number => {
    const k = samplesPerExample(name, yTrue, yPred, minRank, lastAxisFactor);
    if (targets !== null) checkTargetValues(name, yTrue, targets);
    return k;
  };
  const perSample = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    const k = check(yTrue, yPred);
    return perSampleSum(elementNLL, yTrue, yPred, k);
  };
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    const k = check(yTrue, yPred);
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
 * **yTrue**: `[batch, ...event]`, values in [0, 1] (with `checkTargets: true`
 * anything else throws, naming the range seen: e.g. raw 0–255 pixels).
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
  const opts = checkOptions(where, args, ['fromLogits', 'checkTargets']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'unit' : null;
  return makeLoss(where, 1, 1, fromLogits ? bernoulliNLLFromLogits : bernoulliNLLFromProbs, targets);
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
 * **yTrue**: `[batch, ...event]`, finite (checked with `checkTargets: true`).
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
  const opts = checkOptions(where, args, ['scale', 'learnedVariance', 'checkTargets']);
  const learnedVariance = checkBoolean(where, 'learnedVariance', opts.learnedVariance);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'finite' : null;
  if (learnedVariance) {
    if (opts.scale !== undefined) {
      throw new Error(
          `${where}: scale and learnedVariance: true exclude each other (the scale comes from yPred). ` +
          `Received: scale=${String(opts.scale)}`);
    }
    return makeLoss(where, 2, 2, (yTrue, yPred) => {
      const [mean, logVar] = tf.split(yPred, 2, -1);
      return gaussianNLLLearnedVariance(yTrue, mean, logVar);
    }, targets);
  }
  const scale = opts.scale === undefined ? 1 : opts.scale;
  checkScale(where, scale);
  return makeLoss(where, 1, 1, (yTrue, yPred) => gaussianNLLFixedScale(yTrue, yPred, scale), targets);
}

/**
 * Categorical negative log-likelihood per example, classes on the last axis
 * (e.g. one pixel's 256 intensity levels, or a sequence of tokens):
 *
 *     logits:         nll_b = −Σ_event Σ_c y_c · log softmax(l)_c
 *     probabilities:  nll_b = −Σ_event Σ_c y_c · log clip(p_c, 1e-7, 1)
 *
 * **yTrue**: `[batch, ...event, classes]`, one-hot or probabilities (in
 * [0, 1], checked with `checkTargets: true`).
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
  const opts = checkOptions(where, args, ['fromLogits', 'checkTargets']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'unit' : null;
  return makeLoss(where, 2, 1, fromLogits ? categoricalNLLFromLogits : categoricalNLLFromProbs, targets);
}
