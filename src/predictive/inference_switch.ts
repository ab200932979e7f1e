/**
 * One switch between Monte Carlo and posterior-mean prediction for a whole
 * model: `setInferenceMode(model, 'mean')` makes every stochastic layer of
 * the model (nested models included) return its distribution's mean outside
 * training, `'sample'` makes them draw again.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {InferenceMode, isStochasticLayer, StochasticLayer} from '../layers/inference_mode';
import {modelLayers} from '../layers/model_layers';
import {argumentError, checkOneOf} from '../util/validate';

/** One stochastic layer of a model and what it does outside training. */
export interface LayerInferenceMode {
  /** The layer's name. */
  name: string;
  /** Its class name (`'Reparameterize'`, `'BayesianDense'`, …). */
  className: string;
  /** Its `inferenceMode`: `'sample'`, `'mean'`, or a layer's own (`GumbelSoftmax`'s `'mode'`). */
  mode: string;
}

/** Every stochastic layer of `model`, nested models included, each once (depth first). */
export function stochasticLayers(where: string, model: unknown): StochasticLayer[] {
  const layers = (model as {layers?: unknown} | null)?.layers;
  if (model == null || typeof model !== 'object' || !Array.isArray(layers)) {
    throw argumentError(where, 'model', 'a tf.LayersModel (tf.model or tf.sequential)', model);
  }
  return modelLayers(layers as tfl.layers.Layer[]).filter((l): l is tfl.layers.Layer & StochasticLayer => isStochasticLayer(l));
}

/**
 * Each stochastic layer of `model` (nested models included) with its
 * current `inferenceMode`, in the order the models list their layers.
 * Deterministic layers are not listed; `[]` for a deterministic model.
 *
 * ```js
 * tfv.getInferenceModes(model);  // [{name: 'bayesian_dense_1', className: 'BayesianDense', mode: 'sample'}, …]
 * ```
 */
export function getInferenceModes(model: tfl.LayersModel): LayerInferenceMode[] {
  return stochasticLayers('getInferenceModes', model).map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    mode: layer.inferenceMode,
  }));
}

/**
 * Sets `inferenceMode` on every stochastic layer of `model`, recursing into
 * nested models, and returns the layers' modes afterwards (as
 * `getInferenceModes`):
 *
 * - `'mean'`: posterior-mean (deterministic) prediction — `Reparameterize`
 *   returns `mu`, `BayesianDense` uses the weights' posterior means,
 *   `FlowPosterior` pushes `mu` through its flows, `GumbelSoftmax` returns
 *   the class probabilities `softmax(l)` (its mode `'mean'`; its third mode
 *   `'mode'`, the one-hot argmax, is set on the layer itself);
 * - `'sample'`: every one of them draws as in training (Monte Carlo
 *   prediction, `tfv.predictive`, generation, an unbiased held-out ELBO).
 *
 * Training is unaffected (layers always sample at training). The modes are
 * part of each layer's config, so `model.save` keeps them. Layers are found
 * by the stochastic-layer contract (`inferenceMode` getter and setter), not
 * by class name, so layers added later are covered. If a layer refuses the
 * mode, every layer gets its previous mode back and the error names it.
 *
 * ```js
 * tfv.setInferenceMode(model, 'mean');
 * const yMean = model.predict(x);          // deterministic
 * tfv.setInferenceMode(model, 'sample');
 * const {probs, mutualInformation} = await tfv.predictive(model, x, {samples: 50});
 * ```
 */
export function setInferenceMode(model: tfl.LayersModel, mode: InferenceMode): LayerInferenceMode[] {
  const where = 'setInferenceMode';
  const layers = stochasticLayers(where, model);
  const m = checkOneOf<InferenceMode>(where, 'mode', mode, ['sample', 'mean']);
  const previous = layers.map((layer) => layer.inferenceMode);
  for (let i = 0; i < layers.length; i++) {
    try {
      layers[i].inferenceMode = m;
    } catch (e) {
      for (let j = 0; j < i; j++) layers[j].inferenceMode = previous[j];
      throw new Error(`${where}: layer '${layers[i].name}' (${layers[i].getClassName()}) refused inferenceMode '${m}': ` +
          `${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return getInferenceModes(model);
}
