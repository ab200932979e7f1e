/**
 * Per-term logs: `fit`'s logs and history carry the data term and each
 * divergence of a model separately, unweighted, and their `val_` twins.
 *
 * A model trains on `loss = data term + Σ β·surrogate` (β-VAE, KL annealing,
 * free bits): with β ≠ 1 or free bits on, `loss` is not the negative ELBO,
 * and without the terms nobody can tell reconstruction from KL. After
 * `compile`, a model with divergence layers gets these extra entries in
 * `model.metricsNames`, which tfjs then computes and logs like any metric
 * (per batch, averaged per epoch, `val_` on validation data, in `History`):
 *
 * | name | value (a batch mean, nats per example) |
 * | --- | --- |
 * | `reconstruction` | the compiled loss (single-output models; with several outputs tfjs logs each output's loss) |
 * | `kl` | the divergence of the model's one divergence layer, as it enters the ELBO: no β, no free bits (`BayesianDense`: KL/N) |
 * | `<layer name>` | the same, one per divergence layer, when the model has several |
 * | `negative_elbo` | `reconstruction` + every divergence (single-output models) |
 *
 * How: each divergence layer records, beside its loss, its unweighted term
 * (`divergence_layer.ts`); the metrics read this step's terms. tfjs computes
 * a step's metrics after the forward pass and before it reads the layer
 * losses, and our full-objective test function computes them inside the
 * evaluation's collection, so both see the terms of the batch at hand.
 *
 * `model.evaluate`, `evaluateDataset` and `trainOnBatch` keep returning what
 * they returned before (the loss and the user's metrics): the extra values
 * are dropped there. `tfv.evaluateObjective` returns the same split.
 * `setTermLogs(false)` stops adding them to models compiled afterwards.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {BoundLossLike, isBoundLoss} from '../engine/log_weights';
import {DivergenceSource, divergenceLayers, divergenceTermNames} from '../layers/divergence_layer';

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The parts of a compiled LayersModel used here (public in JS, private in the typings). */
interface CompiledModel {
  layers: tfl.layers.Layer[];
  outputs: unknown[];
  lossFunctions: LossFn[];
  metricsNames: string[];
  metricsTensors: Array<[LossFn, number]>;
}

/** Number of entries this module appended to a model's metrics (a registered symbol: shared by every copy). */
const ADDED: unique symbol = Symbol.for('tfjs-variational.termLogs.added');

interface Tagged {
  [ADDED]?: number;
}

/** The extra metrics of a model: names and functions `(yTrue, yPred) → scalar`. */
function termMetrics(m: CompiledModel): Array<[string, LossFn]> {
  const dataLoss = m.lossFunctions[0];
  const layers = divergenceLayers(m.layers);
  if (m.outputs.length === 1 && isBoundLoss(dataLoss)) return boundTermMetrics(dataLoss, layers);
  if (layers.length === 0) return [];
  const names = divergenceTermNames(layers);
  const metrics: Array<[string, LossFn]> = layers.map((layer, i) => [names[i], () => layer.currentDivergence()]);
  if (m.outputs.length !== 1) return metrics;
  // negative_elbo reuses the reconstruction of the same step (tfjs calls the
  // metrics in order, on the same target and output tensors).
  let last: {yTrue: tf.Tensor, yPred: tf.Tensor, value: tf.Tensor}|null = null;
  const reconstruction: LossFn = (yTrue, yPred) => {
    const value = tf.mean(dataLoss(yTrue, yPred));
    last = {yTrue, yPred, value};
    return value;
  };
  const negativeElbo: LossFn = (yTrue, yPred) => tf.tidy(() => {
    const data = last !== null && last.yTrue === yTrue && last.yPred === yPred && !last.value.isDisposed ?
        last.value : tf.mean(dataLoss(yTrue, yPred));
    return tf.addN([data, ...layers.map((l) => l.currentDivergence())]);
  });
  return [['reconstruction', reconstruction], ...metrics, ['negative_elbo', negativeElbo]];
}

/**
 * A model compiled with a bound loss: `reconstruction` and `kl` are the
 * k-sample Monte Carlo terms the bound saw in the same step, `negative_elbo`
 * their sum plus any divergence layer the bound does not cover (named after
 * the layer).
 */
function boundTermMetrics(bound: BoundLossLike, layers: DivergenceSource[]): Array<[string, LossFn]> {
  const term = (pick: 'reconstruction'|'kl'): LossFn => (yTrue, yPred) => {
    const terms = bound.logTerms(yTrue, yPred);
    return terms === null ? tf.scalar(NaN) : tf.mean(terms[pick]);
  };
  const others: Array<[string, LossFn]> = layers.map((layer) => [layer.name, () => layer.currentDivergence()]);
  const negativeElbo: LossFn = (yTrue, yPred) => tf.tidy(() => {
    const terms = bound.logTerms(yTrue, yPred);
    if (terms === null) return tf.scalar(NaN);
    return tf.addN([tf.mean(terms.reconstruction), tf.mean(terms.kl), ...layers.map((l) => l.currentDivergence())]);
  });
  return [['reconstruction', term('reconstruction')], ['kl', term('kl')], ...others, ['negative_elbo', negativeElbo]];
}

let enabled = true;

/**
 * Adds the per-term logs to models compiled from now on (default) or stops
 * adding them.
 */
export function setTermLogs(on: boolean): void {
  if (typeof on !== 'boolean') {
    throw new Error(`setTermLogs: expected enabled to be a boolean. Received: enabled=${String(on)}`);
  }
  enabled = on;
}

/** Whether models compiled now get the per-term logs. */
export function isTermLogs(): boolean {
  return enabled;
}

/** How many trailing entries of `model`'s metrics are per-term logs (0 for a model without). */
export function addedMetricCount(model: tfl.LayersModel): number {
  const inner = (model as unknown as {model?: unknown}).model;
  const m = (inner instanceof tfl.LayersModel ? inner : model) as unknown as Tagged;
  return m[ADDED] ?? 0;
}

/** Appends the per-term metrics to a just-compiled model (our `compile` replacement calls it). */
export function appendTermMetrics(model: tfl.LayersModel): void {
  const m = model as unknown as CompiledModel & Tagged;
  m[ADDED] = 0;
  if (!enabled || !Array.isArray(m.metricsNames) || !Array.isArray(m.metricsTensors)) return;
  const taken = new Set(m.metricsNames);
  const metrics = termMetrics(m).filter(([name]) => !taken.has(name));
  for (const [name, fn] of metrics) {
    m.metricsNames.push(name);
    m.metricsTensors.push([fn, 0]);
  }
  m[ADDED] = metrics.length;
}

type Proto = {
  evaluate(this: tfl.LayersModel, ...rest: unknown[]): tf.Scalar|tf.Scalar[];
  evaluateDataset(this: tfl.LayersModel, ...rest: unknown[]): Promise<tf.Scalar|tf.Scalar[]>;
  trainOnBatch(this: tfl.LayersModel, ...rest: unknown[]): Promise<number|number[]>;
};

/** Marks our replacements and holds the originals. */
const ORIGINAL: unique symbol = Symbol.for('tfjs-variational.termLogs.original');

/** Drops the per-term values from a result list, as tfjs would return it without them. */
function withoutAdded<T>(model: tfl.LayersModel, result: T|T[], release: (dropped: T[]) => void): T|T[] {
  const n = addedMetricCount(model);
  if (n === 0 || !Array.isArray(result)) return result;
  const kept = result.slice(0, result.length - n);
  release(result.slice(result.length - n));
  return kept.length === 1 ? kept[0] : kept;
}

/**
 * Installs, on `tfl.LayersModel.prototype`, the replacements of `evaluate`,
 * `evaluateDataset` and `trainOnBatch` that drop the per-term values from
 * their results (once; safe to call again). `appendTermMetrics` runs from our
 * `compile` replacement (`model_patches.ts`).
 */
export function installTermLogs(): boolean {
  const proto = tfl.LayersModel.prototype as unknown as Proto & {[ORIGINAL]?: Proto};
  if (proto[ORIGINAL] != null) return true;
  const original: Proto = {
    evaluate: proto.evaluate,
    evaluateDataset: proto.evaluateDataset,
    trainOnBatch: proto.trainOnBatch,
  };
  Object.defineProperty(proto, ORIGINAL, {value: original});
  proto.evaluate = function(...rest) {
    return withoutAdded(this, original.evaluate.apply(this, rest), (dropped) => tf.dispose(dropped));
  };
  proto.evaluateDataset = async function(...rest) {
    return withoutAdded(this, await original.evaluateDataset.apply(this, rest), (dropped) => tf.dispose(dropped));
  };
  proto.trainOnBatch = async function(...rest) {
    return withoutAdded(this, await original.trainOnBatch.apply(this, rest), () => undefined);
  };
  return true;
}
