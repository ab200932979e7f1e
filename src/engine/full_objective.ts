/**
 * The full objective on held-out data.
 *
 * tfjs-layers' `evaluate` and `fit`'s validation compute only the compiled
 * (data) loss and drop every `addLoss` term, so a VAE's `val_loss` would
 * miss its KL divergence. Importing this package replaces
 * `LayersModel.prototype.makeTestFunction` with one that reports
 *
 *     loss = Σ_outputs mean(compiled loss) + Σ layer losses
 *
 * — for a VAE the full negative ELBO — and lists each output's loss and each
 * metric in the order of `model.metricsNames` (tfjs 4.22's own test function
 * misaligns them for models with several outputs). Layer losses include our
 * divergences and tfjs's weight regularizers, as in Keras.
 * `setFullObjectiveEvaluation(false)` restores tfjs's original.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {collectLayerLosses} from './layer_losses';
import {isBoundLoss} from './log_weights';
import {divergenceLayers, divergenceTermNames} from './term_logs';

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The parts of a compiled LayersModel this module reads (public in JS, private in the typings). */
interface CompiledModel {
  layers: tfl.layers.Layer[];
  inputs: unknown[];
  outputs: unknown[];
  lossFunctions?: LossFn[];
  metricsTensors?: Array<[LossFn, number]>;
  testFunction?: (data: tf.Tensor[]) => tf.Scalar[];
  apply(inputs: tf.Tensor|tf.Tensor[], kwargs?: {training?: boolean}): tf.Tensor|tf.Tensor[];
  calculateLosses(): tf.Scalar[];
  name: string;
}

interface BatchObjective {
  total: tf.Scalar;
  data: tf.Scalar;
  layer: tf.Scalar;
  perOutput: tf.Scalar[];
  metrics: tf.Scalar[];
  /**
   * The ELBO's terms: each divergence as it enters it, in `termNames` order
   * (see `term_logs.ts`), and its data term (the compiled loss, or for a
   * bound loss the Monte Carlo reconstruction the bound saw).
   */
  terms: tf.Scalar[];
  elboData: tf.Scalar;
}

/**
 * The names of the ELBO's divergence terms of a model, as in `fit`'s logs:
 * `kl` for one divergence layer, the layer names for several; with a bound
 * loss `kl` (the bound's) first, then the layers it does not cover.
 */
function termNames(m: CompiledModel): string[] {
  const layers = divergenceLayers(m.layers);
  return isBoundLoss(m.lossFunctions![0]) ? ['kl', ...layers.map((l) => l.name)] : divergenceTermNames(layers);
}

function asCompiled(model: tfl.LayersModel, where: string): CompiledModel {
  // A tf.sequential model keeps its compiled losses on the LayersModel it wraps.
  const inner = (model as unknown as {model?: unknown}).model;
  const m = (inner instanceof tfl.LayersModel ? inner : model) as unknown as CompiledModel;
  if (m.lossFunctions == null || m.lossFunctions.length === 0) {
    throw new Error(`${where}: the model '${m.name}' must be compiled first: its compiled loss is the data term`);
  }
  return m;
}

/**
 * Forward pass at inference (`training: false`) with every layer loss
 * collected, the compiled loss per output, and the metrics. Call inside `tidy`.
 */
function batchObjective(m: CompiledModel, xs: tf.Tensor[], ys: tf.Tensor[]): BatchObjective {
  const lossFns = m.lossFunctions!;
  const {result, layerLoss} = collectLayerLosses(() => {
    const out = m.apply(xs.length === 1 ? xs[0] : xs, {training: false});
    const outputs = Array.isArray(out) ? out : [out];
    const perOutput = lossFns.map((fn, i) => tf.mean(fn(ys[i], outputs[i])) as tf.Scalar);
    // Inside the collection: the per-term metrics read the terms it gathered. With several outputs the
    // first entries are the outputs' losses, as in tfjs's train function (a bound loss is read once per step).
    const several = outputs.length > 1;
    const metrics = (m.metricsTensors ?? []).map(([fn, i], j) =>
        several && j < outputs.length ? perOutput[j] : tf.mean(fn(ys[i], outputs[i])) as tf.Scalar);
    const layerTerms = divergenceLayers(m.layers).map((l) => l.currentDivergence());
    const bound = isBoundLoss(lossFns[0]) ? lossFns[0].logTerms(ys[0], outputs[0]) : null;
    const terms = bound === null ? layerTerms : [tf.mean(bound.kl) as tf.Scalar, ...layerTerms];
    const elboData = bound === null ? null : tf.mean(bound.reconstruction) as tf.Scalar;
    return {perOutput, metrics, terms, elboData};
  });
  const {perOutput, metrics, terms} = result;
  const data = perOutput.length === 1 ? perOutput[0] : tf.addN(perOutput) as tf.Scalar;
  // Weight regularizers and any other addLoss closures (ours return 0 here: their terms went to the collector).
  const others = m.calculateLosses();
  const layer = others.length === 0 ? layerLoss : tf.addN([layerLoss, ...others]) as tf.Scalar;
  const total = tf.add(data, layer) as tf.Scalar;
  return {total, data, layer, perOutput, metrics, terms, elboData: result.elboData ?? data};
}

type MakeTestFunction = (this: tfl.LayersModel) => void;
const proto = tfl.LayersModel.prototype as unknown as {makeTestFunction: MakeTestFunction};
const originalMakeTestFunction: MakeTestFunction = proto.makeTestFunction;

function makeFullObjectiveTestFunction(this: tfl.LayersModel): void {
  const m = this as unknown as CompiledModel;
  m.testFunction = (data: tf.Tensor[]) => tf.tidy(() => {
    const nIn = m.inputs.length;
    const nOut = m.outputs.length;
    const r = batchObjective(m, data.slice(0, nIn), data.slice(nIn, nIn + nOut));
    // metricsTensors already holds each output's loss first when there are several outputs.
    return [r.total, ...r.metrics];
  });
}

/**
 * Switches full-objective evaluation on (the default once this package is
 * imported) or back to tfjs's original, which drops layer losses.
 */
export function setFullObjectiveEvaluation(enabled: boolean): void {
  if (typeof enabled !== 'boolean') {
    throw new Error(`setFullObjectiveEvaluation: expected enabled to be a boolean. Received: enabled=${enabled}`);
  }
  proto.makeTestFunction = enabled ? makeFullObjectiveTestFunction : originalMakeTestFunction;
}

/** Whether `evaluate` and validation currently report the full objective. */
export function isFullObjectiveEvaluation(): boolean {
  return proto.makeTestFunction === makeFullObjectiveTestFunction;
}

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
