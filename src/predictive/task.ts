/**
 * The task of a model for `predictive` when the caller does not name it:
 * read from the activation of its output layer and from its compiled loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type PredictiveTask = 'regression'|'classification';

const CLASSIFICATION_LOSSES = ['categoricalcrossentropy', 'sparsecategoricalcrossentropy', 'categoricalnll', 'softmaxcrossentropy'];
const REGRESSION_LOSSES = ['meansquarederror', 'meanabsoluteerror', 'meanabsolutepercentageerror', 'meansquaredlogarithmicerror',
  'huberloss', 'logcosh', 'gaussiannll', 'mse', 'mae'];

/** A loss's name, lower case without `_` (tfjs accepts `categorical_crossentropy` and `categoricalCrossentropy`). */
function lossKey(loss: unknown): string {
  const name = typeof loss === 'string' ? loss : typeof loss === 'function' ? loss.name : '';
  return name.replace(/_/g, '').toLowerCase();
}

/** The compiled losses of `model` by name (empty if not compiled). */
function compiledLosses(model: tfl.LayersModel): string[] {
  const loss = (model as unknown as {loss?: unknown}).loss;
  const list = loss == null ? [] : Array.isArray(loss) ? loss : typeof loss === 'object' ? Object.values(loss) : [loss];
  const fns = (model as unknown as {lossFunctions?: unknown[]}).lossFunctions ?? [];
  return [...new Set([...list, ...fns].map(lossKey).filter((k) => k !== ''))];
}

/** The layer producing the model's one output, looking inside a nested model that is the output layer. */
export function outputLayer(model: tfl.LayersModel): tfl.layers.Layer|null {
  let layer: tfl.layers.Layer|null = model as unknown as tfl.layers.Layer;
  for (let depth = 0; depth < 16 && layer !== null; depth++) {
    const outs: tfl.layers.Layer[]|undefined = (layer as unknown as {outputLayers?: tfl.layers.Layer[]}).outputLayers;
    if (!Array.isArray(outs)) return layer;
    layer = outs.length === 1 ? outs[0] : null;
  }
  return layer;
}

/** True for a `tfv.layers.gaussianOutput` layer (by class name, so another copy of the library counts too). */
export function isGaussianOutput(layer: tfl.layers.Layer|null): boolean {
  return layer !== null && layer.getClassName() === 'GaussianOutput';
}

/** The activation of `layer` as its config names it (`Softmax` and `Activation` layers included), or null. */
function activationOf(layer: tfl.layers.Layer): string|null {
  if (layer.getClassName() === 'Softmax') return 'softmax';
  let config: tf.serialization.ConfigDict;
  try {
    config = layer.getConfig();
  } catch {
    return null;
  }
  return typeof config['activation'] === 'string' ? config['activation'] : null;
}

/**
 * Classification for a softmax output layer or a categorical loss; regression for a linear or
 * `gaussianOutput` output layer or a regression loss (the loss names compared lower case, without `_`);
 * otherwise an error naming what was seen and asking for `task`.
 */
export function inferTask(where: string, model: tfl.LayersModel): PredictiveTask {
  const losses = compiledLosses(model);
  const layer = outputLayer(model);
  const activation = layer === null ? null : activationOf(layer);
  if (activation === 'softmax' || losses.some((l) => CLASSIFICATION_LOSSES.includes(l))) return 'classification';
  if (layer !== null && (isGaussianOutput(layer) || activation === 'linear' || losses.some((l) => REGRESSION_LOSSES.includes(l)))) {
    return 'regression';
  }
  const seen = layer === null ? `${(model.outputs ?? []).length} outputs` :
      `output layer '${layer.name}' (${layer.getClassName()}${activation === null ? '' : `, activation '${activation}'`})`;
  throw new Error(`${where}: cannot tell whether the model classifies or regresses (${seen}; ` +
      `compiled loss: ${losses.length === 0 ? 'none' : losses.join(', ')}). Pass task: 'classification' or 'regression'`);
}
