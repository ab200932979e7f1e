/**
 * Stand-in for the library's Monte Carlo prediction (`tfv.predictive`,
 * `tfv.setInferenceMode`) while they are not in the build: the same names
 * and arguments, plain float64 arithmetic. train.mjs switches to the library
 * by one line once they are.
 */
import * as tf from '@tensorflow/tfjs-core';

function entropyOf(p, offset, classes) {
  let h = 0;
  for (let c = 0; c < classes; c++) {
    const v = p[offset + c];
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/**
 * Monte Carlo predictive distribution of a classifier whose output is a
 * softmax: `samples` calls of `model.predict`, each with fresh noise.
 *   probs_n = (1/S) Σ_s p_s(y | x_n)
 *   predictiveEntropy_n = H[probs_n], expectedEntropy_n = (1/S) Σ_s H[p_s],
 *   mutualInformation_n = predictiveEntropy_n − expectedEntropy_n.
 * @returns {{probs: tf.Tensor2D, predictiveEntropy: tf.Tensor1D, expectedEntropy: tf.Tensor1D, mutualInformation: tf.Tensor1D}}
 */
export function predictive(model, x, {samples = 50, batchSize = 1000, task = 'classification'} = {}) {
  if (task !== 'classification') throw new Error(`predictive: task must be 'classification'. Received: task=${task}`);
  const n = x.shape[0];
  let classes = -1;
  let mean = null;
  let expH = new Float64Array(n);
  for (let s = 0; s < samples; s++) {
    const p = tf.tidy(() => model.predict(x, {batchSize}));
    const v = p.dataSync();
    p.dispose();
    if (mean === null) {
      classes = v.length / n;
      mean = new Float64Array(v.length);
    }
    for (let i = 0; i < v.length; i++) mean[i] += v[i] / samples;
    for (let r = 0; r < n; r++) expH[r] += entropyOf(v, r * classes, classes) / samples;
  }
  const predH = new Float64Array(n);
  const mi = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    predH[r] = entropyOf(mean, r * classes, classes);
    mi[r] = Math.max(0, predH[r] - expH[r]);
  }
  return {
    probs: tf.tensor2d(Float32Array.from(mean), [n, classes]),
    predictiveEntropy: tf.tensor1d(Float32Array.from(predH)),
    expectedEntropy: tf.tensor1d(Float32Array.from(expH)),
    mutualInformation: tf.tensor1d(Float32Array.from(mi)),
  };
}

/** Sets `inferenceMode` ('sample' | 'mean') on every layer of `model` that has one. */
export function setInferenceMode(model, mode) {
  for (const layer of model.layers) if ('inferenceMode' in layer) layer.inferenceMode = mode;
}
