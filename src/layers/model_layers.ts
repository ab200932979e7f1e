/** Walking a model's layers, nested models included. */
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Every layer of `layers` and of the nested models among them (a
 * `tf.sequential` used as a layer, a functional model applied to tensors),
 * each once, depth first, in the order the models list them.
 */
export function modelLayers(layers: tfl.layers.Layer[]): tfl.layers.Layer[] {
  const seen = new Set<tfl.layers.Layer>();
  const visit = (list: tfl.layers.Layer[]) => {
    for (const layer of list) {
      if (seen.has(layer)) continue;
      seen.add(layer);
      const inner = (layer as unknown as {layers?: unknown}).layers;
      if (Array.isArray(inner)) visit(inner as tfl.layers.Layer[]);
    }
  };
  visit(layers);
  return [...seen];
}
