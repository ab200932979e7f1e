/** Save/load helpers shared by the serialization tests. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Saves `model` to memory through tf.io and loads it back, as a browser
 * user's handler would (the topology goes through JSON text on the way).
 */
export async function roundTripInMemory(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts|undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  const json = JSON.parse(JSON.stringify(saved!.modelTopology));
  return tfl.loadLayersModel(tf.io.fromMemory({...saved!, modelTopology: json}));
}
