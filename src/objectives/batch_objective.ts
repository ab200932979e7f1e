/**
 * The full objective of one batch: the forward pass at inference with every
 * layer loss collected, the compiled loss per output, the metrics (the
 * per-term logs among them) and the ELBO's terms. The full-objective test
 * function (`patches/full_objective.ts`) and `evaluateObjective` share it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {collectLayerLosses} from '../engine/layer_losses';
import {isBoundLoss} from '../engine/log_weights';
import {divergenceLayers, divergenceTermNames} from '../layers/divergence_layer';

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The parts of a compiled LayersModel this module reads (public in JS, private in the typings). */
export interface CompiledModel {
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

export interface BatchObjective {
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
export function termNames(m: CompiledModel): string[] {
  const layers = divergenceLayers(m.layers);
  return isBoundLoss(m.lossFunctions![0]) ? ['kl', ...layers.map((l) => l.name)] : divergenceTermNames(layers);
}

export function asCompiled(model: tfl.LayersModel, where: string): CompiledModel {
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
export function batchObjective(m: CompiledModel, xs: tf.Tensor[], ys: tf.Tensor[]): BatchObjective {
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

