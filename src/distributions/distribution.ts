/**
 * The base of the distribution classes, and how they take their parameters.
 *
 * A distribution holds element-wise parameters of one shape (after
 * broadcasting), `[...batchShape, ...eventShape]`; the last `eventRank`
 * axes form one event, over which `logProb` and `entropy` sum (TFP's
 * `Independent(d, reinterpreted_batch_ndims = eventRank)`).
 */
import * as tf from '@tensorflow/tfjs-core';

import {argumentError, checkKnownOptions, checkSeed} from '../util/validate';

/** Numbers nested in arrays, rectangular: `2`, `[1, 2]`, `[[1, 2], [3, 4]]`. */
export type NestedNumbers = number|NestedNumbers[];

/**
 * A parameter: a tensor (held by reference, not copied or disposed: the
 * caller owns it, as with tfjs ops) or plain numbers (turned into a tensor
 * inside each method call, so the distribution owns no tensor and can be
 * serialized).
 */
export type Param = tf.Tensor|NestedNumbers;

/** The shape of nested numbers, checking they are rectangular and every entry is accepted by `ok`. */
function nestedShape(where: string, name: string, value: NestedNumbers, ok: (v: number) => boolean, expected: string):
    number[] {
  if (typeof value === 'number') {
    if (!ok(value)) throw argumentError(where, name, expected, value);
    return [];
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw argumentError(where, name, `${expected}, or a non-empty (nested) array of them, or a tf.Tensor`, value);
  }
  const shapes = value.map((v) => nestedShape(where, name, v, ok, expected));
  const first = JSON.stringify(shapes[0]);
  if (shapes.some((s) => JSON.stringify(s) !== first)) {
    throw new Error(`${where}: expected ${name} to be a rectangular nested array. Received: rows of shapes ${
        shapes.map((s) => `[${s}]`).join(', ')}`);
  }
  return [value.length, ...shapes[0]];
}

/** A validated parameter: its value and its shape. */
export interface CheckedParam {
  value: Param;
  shape: number[];
}

/**
 * Checks a parameter: a float32 tensor, or finite numbers (positive ones
 * when `positive`; tensors' values are not read, so not checked).
 */
export function checkParam(where: string, name: string, value: unknown, positive = false): CheckedParam {
  if (value instanceof tf.Tensor) {
    if (value.dtype !== 'float32') {
      throw new Error(`${where}: expected ${name} to be a float32 tensor. Received: ${name} of dtype ${value.dtype}`);
    }
    return {value, shape: value.shape.slice()};
  }
  const ok = positive ? (v: number) => typeof v === 'number' && Number.isFinite(v) && v > 0 :
      (v: number) => typeof v === 'number' && Number.isFinite(v);
  const shape = nestedShape(where, name, value as NestedNumbers, ok, positive ? 'a positive finite number' : 'a finite number');
  return {value: JSON.parse(JSON.stringify(value)) as NestedNumbers, shape};
}

/**
 * Checks the arguments of a distribution parameterized by exactly one of
 * `logits` and `probs` (numbers given as probabilities must lie in [0, 1]).
 */
export function checkLogitsOrProbs(where: string, args: unknown, known: readonly string[]): CheckedParam {
  if (args == null || typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(`${where}: expected an options object {logits} or {probs}. Received: ${String(args)}`);
  }
  checkKnownOptions(where, args, known);
  const {logits, probs} = args as {logits?: unknown, probs?: unknown};
  if ((logits === undefined) === (probs === undefined)) {
    throw new Error(`${where}: expected exactly one of logits and probs. Received: ${logits === undefined ? 'neither' : 'both'}`);
  }
  if (logits !== undefined) return checkParam(where, 'logits', logits);
  const checked = checkParam(where, 'probs', probs);
  if (!(checked.value instanceof tf.Tensor)) {
    const flat = [checked.value].flat(Infinity as 1) as number[];
    const bad = flat.find((v) => !(v >= 0 && v <= 1));
    if (bad !== undefined) throw argumentError(where, 'probs', 'probabilities in [0, 1]', checked.value);
  }
  return checked;
}

/** A parameter as a tensor (a new one for numbers: call inside `tf.tidy`). */
export function toTensor(p: Param): tf.Tensor {
  return p instanceof tf.Tensor ? p : tf.tensor(p as number|number[], undefined, 'float32');
}

/** A parameter as a number where it is one (ops take numbers in double precision), else as a tensor. */
export function toNumberOrTensor(p: Param): tf.Tensor|number {
  return typeof p === 'number' ? p : toTensor(p);
}

/** The broadcast of several shapes, or an error naming the parameters. */
export function broadcastShapes(where: string, params: Record<string, number[]>): number[] {
  let shape: number[] = [];
  try {
    for (const s of Object.values(params)) shape = tf.backend_util.assertAndGetBroadcastShape(shape, s);
  } catch {
    const listed = Object.entries(params).map(([n, s]) => `${n} shape [${s}]`).join(', ');
    throw new Error(`${where}: expected the parameters to broadcast to one shape. Received: ${listed}`);
  }
  return shape;
}

/** Checks `eventRank`, an integer in [0, rank]. */
export function checkEventRank(where: string, value: unknown, rank: number): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > rank) {
    throw argumentError(where, 'eventRank', `an integer in [0, ${rank}] (the rank of the parameters' shape)`, value);
  }
  return value;
}

/** Checks a sample shape (non-negative integers). */
export function checkSampleShape(where: string, value: unknown): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw argumentError(where, 'sampleShape', 'an array of non-negative integers', value);
  }
  return value.slice();
}

/** Checks an optional seed. */
export function checkOptionalSeed(where: string, value: unknown): number|undefined {
  return value === undefined ? undefined : checkSeed(where, 'seed', value);
}

/**
 * A probability distribution over events of shape `eventShape`, one per
 * batch element of `batchShape`. Methods return new tensors (the caller
 * disposes them) and leave no other tensor behind.
 *
 * - `sample(sampleShape, seed)`: `[...sampleShape, ...batchShape, ...eventShape]`;
 * - `logProb(x)`: the log-density (or mass) of each event, summed over the
 *   event axes: `x`'s leading shape broadcast against `batchShape`;
 * - `sampleAndLogProb(sampleShape, seed)`: `[x, logProb(x)]`, the primitive
 *   of Monte Carlo divergences and multi-sample bounds (for a normal computed
 *   through the noise, no density is re-evaluated);
 * - `entropy()` where a closed form exists (else it throws), `mean()`.
 *
 * `reparameterized` says whether samples are differentiable functions of the
 * parameters (pathwise gradients).
 */
export abstract class Distribution extends tf.serialization.Serializable {
  /** The axes not summed by `logProb`. */
  abstract readonly batchShape: number[];
  /** The axes of one event (`logProb` sums over them). */
  abstract readonly eventShape: number[];
  /** Whether a sample is a differentiable function of the parameters. */
  abstract readonly reparameterized: boolean;

  /** `eventShape.length`. */
  get eventRank(): number {
    return this.eventShape.length;
  }

  /** Draws `[...sampleShape, ...batchShape, ...eventShape]`; a `seed` makes it repeatable. */
  abstract sample(sampleShape?: number[], seed?: number): tf.Tensor;

  /** The log-probability (density or mass) of each event of `x`, summed over the event axes. */
  abstract logProb(x: tf.Tensor): tf.Tensor;

  /** The mean, `[...batchShape, ...eventShape]`. */
  abstract mean(): tf.Tensor;

  /** `[x, logProb(x)]` for `x = sample(sampleShape, seed)`. */
  sampleAndLogProb(sampleShape?: number[], seed?: number): [tf.Tensor, tf.Tensor] {
    const x = this.sample(sampleShape, seed);
    const lp = this.logProb(x);
    return [x, lp];
  }

  /** The entropy of each event, `[...batchShape]`, where a closed form exists. */
  entropy(): tf.Tensor {
    throw new Error(`${this.getClassName()}.entropy: no closed form for this distribution; ` +
        'estimate it by Monte Carlo as −mean(sampleAndLogProb(...)[1])');
  }

  /** `t` summed over its last `eventRank` axes. */
  protected sumEvent(t: tf.Tensor): tf.Tensor {
    const k = this.eventRank;
    if (k === 0) return t;
    if (t.rank < k) {
      throw new Error(`${this.getClassName()}: expected a value of rank >= ${k} (the event rank). Received: shape [${t.shape}]`);
    }
    return tf.sum(t, Array.from({length: k}, (_, i) => t.rank - k + i));
  }

  /** The full parameter shape `[...batchShape, ...eventShape]`. */
  protected get paramShape(): number[] {
    return [...this.batchShape, ...this.eventShape];
  }

  /**
   * `t` broadcast to (at least) the parameters' shape; with `copy`, a new
   * tensor also when it has that shape already (so a caller may dispose the
   * result of a method that would otherwise return a parameter itself).
   */
  protected broadcastToParams(t: tf.Tensor, copy = false): tf.Tensor {
    const shape = tf.backend_util.assertAndGetBroadcastShape(t.shape, this.paramShape);
    if (shape.length === t.rank && shape.every((d, i) => d === t.shape[i])) return copy ? tf.clone(t) : t;
    return tf.broadcastTo(t, shape);
  }

  /** A config of plain values; throws for parameters given as tensors. */
  protected configOf(params: Record<string, Param|undefined>, extra: tf.serialization.ConfigDict = {}):
      tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {};
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      if (value instanceof tf.Tensor) {
        throw new Error(`${this.getClassName()}.getConfig: not serializable: built from tensors (${name} is a tf.Tensor); ` +
            'build it from numbers or nested arrays to put it in a config');
      }
      config[name] = JSON.parse(JSON.stringify(value));
    }
    return {...config, ...extra};
  }
}
