/**
 * What every likelihood loss shares: the sample layout (`samplesPerExample`:
 * k samples per example, example-major rows), the per-example sum over the
 * event axes, the loss object `makeLoss` builds, the target check and the
 * option checks.
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
export type TargetRange = 'unit'|'finite';

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
export function makeLoss(
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

export function checkOptions<T extends object>(where: string, args: T|undefined, known: Array<keyof T & string>): T {
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

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (value === undefined) {
    return false;
  }
  if (typeof value !== 'boolean') {
    throw new Error(`${where}: expected ${name} to be a boolean. Received: ${name}=${JSON.stringify(value)}`);
  }
  return value;
}

export function checkScale(where: string, scale: unknown): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new Error(`${where}: expected scale to be a positive finite number. Received: scale=${String(scale)}`);
  }
}
