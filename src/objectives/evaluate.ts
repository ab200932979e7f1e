/**
 * `evaluateObjective`: the full objective — compiled loss plus every layer
 * loss — on tensors or a dataset, split into its terms.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {asCompiled, batchObjective, termNames} from './batch_objective';

/** The objective on a dataset, each term a mean per example. */
export interface ObjectiveResult {
  /**
   * dataTerm + layerLosses: the objective the model trains on (with β = 1
   * and no free bits, for a VAE, the negative ELBO), in nats per example.
   */
  loss: number;
  /**
   * The compiled loss (summed over outputs): the expected negative
   * log-likelihood — or, for a model compiled with a bound loss of
   * `tfv.objectives`, the negative bound.
   */
  dataTerm: number;
  /** Every layer loss as trained: divergences (times β, with free bits) and weight regularizers. */
  layerLosses: number;
  /**
   * Each divergence layer's divergence as it enters the ELBO — no β, no free
   * bits; `BayesianDense`: KL/N — keyed as in `fit`'s logs: `kl` for a model
   * with one divergence layer, the layer names for several. With a bound
   * loss, `kl` is the Monte Carlo KL of the bound's samples (mean of
   * `log q(z|x) − log p(z)`), then any divergence layer it does not cover.
   */
  divergences: {[name: string]: number};
  /**
   * The true negative ELBO: `dataTerm + Σ divergences` (with a bound loss:
   * the Monte Carlo reconstruction of its samples + Σ divergences, the
   * k-sample ELBO). Equal to `loss` when
   * β = 1, free bits are off and there are no weight regularizers.
   */
  negativeElbo: number;
  /** Number of examples evaluated. */
  numExamples: number;
}

export interface EvaluateObjectiveArgs {
  /** Examples per forward pass. Default 32. */
  batchSize?: number;
}

/** Anything with tfjs-data's `iterator()` yielding `{xs, ys}` batches. */
export interface BatchIterable {
  iterator(): Promise<{next(): Promise<{done: boolean, value: {xs: tf.Tensor|tf.Tensor[], ys: tf.Tensor|tf.Tensor[]}}>}>;
}

function toList(t: tf.Tensor|tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(t) ? t : [t];
}

/**
 * Evaluates the full objective — compiled loss plus every layer loss — at
 * inference mode on tensors or on a tfjs-data dataset of `{xs, ys}` batches,
 * returning per-example means. This is what `model.evaluate` reports as
 * `loss` once this package is imported, broken into its terms.
 *
 * ```js
 * const {loss, dataTerm, layerLosses} = await tfv.evaluateObjective(vae, xTest, xTest, {batchSize: 256});
 * ```
 */
export async function evaluateObjective(
    model: tfl.LayersModel, x: tf.Tensor|tf.Tensor[]|BatchIterable, y?: tf.Tensor|tf.Tensor[],
    args: EvaluateObjectiveArgs = {}): Promise<ObjectiveResult> {
  const where = 'evaluateObjective';
  const m = asCompiled(model, where);
  const batchSize = args.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${where}: expected batchSize to be a positive integer. Received: batchSize=${batchSize}`);
  }
  const names = termNames(m);
  const sums = {total: 0, data: 0, layer: 0, elboData: 0, terms: names.map(() => 0)};
  let n = 0;
  const accumulate = async (xs: tf.Tensor[], ys: tf.Tensor[]) => {
    const nb = xs[0].shape[0];
    const r = tf.tidy(() => {
      const o = batchObjective(m, xs, ys);
      return tf.stack([o.total, o.data, o.layer, o.elboData, ...o.terms]);
    });
    const [total, data, layer, elboData, ...terms] = Array.from(await r.data());
    r.dispose();
    sums.total += total * nb;
    sums.data += data * nb;
    sums.layer += layer * nb;
    sums.elboData += elboData * nb;
    terms.forEach((t, i) => sums.terms[i] += t * nb);
    n += nb;
  };
  if (x instanceof tf.Tensor || Array.isArray(x)) {
    if (y === undefined) {
      throw new Error(`${where}: expected y (the targets) when x is a tensor. Received: y=undefined`);
    }
    const xs = toList(x);
    const ys = toList(y);
    const total = xs[0].shape[0];
    for (const t of [...xs, ...ys]) {
      if (t.shape[0] !== total) {
        throw new Error(`${where}: every x and y must have the same number of examples (${total}). Received shape [${t.shape}]`);
      }
    }
    for (let start = 0; start < total; start += batchSize) {
      const size = Math.min(batchSize, total - start);
      const slice = (t: tf.Tensor) => tf.slice(t, start, size);
      const xb = xs.map(slice);
      const yb = ys.map(slice);
      await accumulate(xb, yb);
      tf.dispose([...xb, ...yb]);
    }
  } else if (x != null && typeof (x as BatchIterable).iterator === 'function') {
    const it = await (x as BatchIterable).iterator();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      await accumulate(toList(r.value.xs), toList(r.value.ys));
      tf.dispose([r.value.xs, r.value.ys] as tf.Tensor[]);
    }
  } else {
    throw new Error(`${where}: expected x to be a tensor, an array of tensors or a dataset of {xs, ys}. Received: x=${x}`);
  }
  if (n === 0) {
    throw new Error(`${where}: the data holds no examples`);
  }
  const divergences: {[name: string]: number} = {};
  names.forEach((name, i) => divergences[name] = sums.terms[i] / n);
  const negativeElbo = (sums.elboData + sums.terms.reduce((a, b) => a + b, 0)) / n;
  return {loss: sums.total / n, dataTerm: sums.data / n, layerLosses: sums.layer / n, divergences, negativeElbo, numExamples: n};
}
