/**
 * Reading the metrics' inputs: class probabilities `[N, …, C]` and labels
 * (class indices `[N, …]` or one-hot `[N, …, C]`), as tensors or nested
 * arrays, into flat float64 rows on the CPU (asynchronously, as webgpu
 * prefers). Every check names the argument and what it received.
 */
import * as tf from '@tensorflow/tfjs-core';

import {argumentError} from '../util/validate';

/** Class probabilities: a tensor or nested arrays `[N, …, C]`, classes on the last axis. */
export type ProbabilitiesInput = tf.Tensor|number[][];
/** Labels: class indices `[N, …]` or one-hot `[N, …, C]`, a tensor or (nested) arrays. */
export type LabelsInput = tf.Tensor|number[]|number[][];
/** Scores: a tensor or an array of numbers, any shape (flattened). */
export type ScoresInput = tf.Tensor|ArrayLike<number>;

interface Values {
  shape: number[];
  data: Float64Array;
}

/** The shape of a rectangular nested array of numbers, or null. */
function nestedShape(x: unknown): number[]|null {
  if (!Array.isArray(x)) return typeof x === 'number' ? [] : null;
  if (x.length === 0) return [0];
  const inner = nestedShape(x[0]);
  if (inner === null) return null;
  for (let i = 1; i < x.length; i++) {
    const s = nestedShape(x[i]);
    if (s === null || s.join() !== inner.join()) return null;
  }
  return [x.length, ...inner];
}

async function read(where: string, name: string, x: unknown, expected: string): Promise<Values> {
  if (x instanceof tf.Tensor) return {shape: x.shape.slice(), data: Float64Array.from(await x.data() as ArrayLike<number>)};
  const shape = nestedShape(x);
  if (shape === null || shape.length === 0) throw argumentError(where, name, expected, x);
  return {shape, data: Float64Array.from((x as unknown[]).flat(Infinity) as number[])};
}

/** Probabilities as `n` rows of `c` values in [0, 1] (finite; a float32 softmax may exceed 1 by rounding). */
export interface ProbabilityRows {
  n: number;
  c: number;
  shape: number[];
  data: Float64Array;
}

export async function readProbabilities(where: string, probs: unknown): Promise<ProbabilityRows> {
  const expected = 'class probabilities [N, ..., C] (a tf.Tensor or nested arrays)';
  const {shape, data} = await read(where, 'probs', probs, expected);
  if (shape.length < 2) throw new Error(`${where}: expected probs to be ${expected}. Received: probs shape=[${shape.join(', ')}]`);
  const c = shape[shape.length - 1];
  const n = c === 0 ? 0 : data.length / c;
  if (n === 0) throw new Error(`${where}: expected probs to hold at least one example and one class. Received: probs shape=[${shape.join(', ')}]`);
  for (let i = 0; i < data.length; i++) {
    const p = data[i];
    if (!(p >= 0 && p <= 1 + 1e-6)) {
      throw new Error(`${where}: expected probs to be probabilities in [0, 1] (pass softmax(logits), not logits). ` +
          `Received: probs element ${i}=${p}`);
    }
  }
  return {n, c, shape, data};
}

/** The class index of each of `rows.n` examples from `labels` (indices or one-hot matching `rows`). */
export async function readLabels(where: string, labels: unknown, rows: ProbabilityRows): Promise<Int32Array> {
  const expected = 'class indices [N, ...] or one-hot labels [N, ..., C] (a tf.Tensor or arrays)';
  const {shape, data} = await read(where, 'labels', labels, expected);
  const out = new Int32Array(rows.n);
  if (shape.join() === rows.shape.join()) {
    for (let i = 0; i < rows.n; i++) {
      let hot = -1;
      for (let j = 0; j < rows.c; j++) {
        const v = data[i * rows.c + j];
        if (v === 1 && hot === -1) {
          hot = j;
        } else if (v !== 0) {
          hot = -2;
          break;
        }
      }
      if (hot < 0) {
        throw new Error(`${where}: expected one-hot labels (one 1, the rest 0, per example). ` +
            `Received: labels row ${i}=[${Array.from(data.subarray(i * rows.c, (i + 1) * rows.c)).join(', ')}]`);
      }
      out[i] = hot;
    }
    return out;
  }
  if (shape.join() !== rows.shape.slice(0, -1).join()) {
    throw new Error(`${where}: expected labels of shape [${rows.shape.slice(0, -1).join(', ')}] (class indices) or ` +
        `[${rows.shape.join(', ')}] (one-hot) to match probs. Received: labels shape=[${shape.join(', ')}]`);
  }
  for (let i = 0; i < rows.n; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < 0 || v >= rows.c) {
      throw new Error(`${where}: expected labels to be class indices in 0..${rows.c - 1}. Received: labels element ${i}=${v}`);
    }
    out[i] = v;
  }
  return out;
}

/** The predicted class (the first maximum, as `tf.argMax`) and its probability, the confidence, per row. */
export function argMaxRows(rows: ProbabilityRows): {predicted: Int32Array, confidence: Float64Array} {
  const predicted = new Int32Array(rows.n);
  const confidence = new Float64Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    let best = 0;
    for (let j = 1; j < rows.c; j++) if (rows.data[i * rows.c + j] > rows.data[i * rows.c + best]) best = j;
    predicted[i] = best;
    confidence[i] = rows.data[i * rows.c + best];
  }
  return {predicted, confidence};
}

/** Scores as a flat float64 array, non-empty and without NaN (±∞ are ordered and allowed). */
export async function readScores(where: string, name: string, scores: unknown): Promise<Float64Array> {
  const expected = 'a non-empty tf.Tensor or array of numbers';
  let data: Float64Array;
  if (scores instanceof tf.Tensor) {
    data = Float64Array.from(await scores.data() as ArrayLike<number>);
  } else if (scores != null && typeof scores === 'object' && typeof (scores as ArrayLike<number>).length === 'number') {
    const list = Array.from(scores as ArrayLike<unknown>);
    if (!list.every((v) => typeof v === 'number')) throw argumentError(where, name, expected, scores);
    data = Float64Array.from(list as number[]);
  } else {
    throw argumentError(where, name, expected, scores);
  }
  if (data.length === 0) throw argumentError(where, name, expected, []);
  const nan = data.findIndex((v) => Number.isNaN(v));
  if (nan >= 0) throw new Error(`${where}: expected ${name} to hold numbers, not NaN. Received: ${name} element ${nan}=NaN`);
  return data;
}
