/**
 * Stand-in for the library's Monte Carlo prediction and classification
 * metrics (`tfv.predictive`, `tfv.setInferenceMode`, `tfv.metrics.*`) while
 * they are not in the build: the same names and arguments, plain float64
 * arithmetic. train.mjs switches to the library by one line once they are.
 */
import * as tf from '@tensorflow/tfjs-core';

const LOG_EPS = 1e-12;

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

function arrays(probs, labels) {
  const p = probs.dataSync();
  const y = labels instanceof tf.Tensor ? labels.dataSync() : labels;
  const n = y.length;
  return {p, y, n, classes: p.length / n};
}

function argmaxRow(p, r, classes) {
  let best = 0;
  for (let c = 1; c < classes; c++) if (p[r * classes + c] > p[r * classes + best]) best = c;
  return best;
}

export const metrics = {
  accuracy(probs, labels) {
    const {p, y, n, classes} = arrays(probs, labels);
    let right = 0;
    for (let r = 0; r < n; r++) if (argmaxRow(p, r, classes) === y[r]) right++;
    return right / n;
  },
  negativeLogLikelihood(probs, labels) {
    const {p, y, n, classes} = arrays(probs, labels);
    let s = 0;
    for (let r = 0; r < n; r++) s -= Math.log(Math.max(p[r * classes + y[r]], LOG_EPS));
    return s / n;
  },
  reliabilityDiagram(probs, labels, {bins = 15} = {}) {
    const {p, y, n, classes} = arrays(probs, labels);
    const acc = Array.from({length: bins}, (_, k) => ({lower: k / bins, upper: (k + 1) / bins, count: 0, accuracy: 0, confidence: 0}));
    for (let r = 0; r < n; r++) {
      const c = argmaxRow(p, r, classes);
      const conf = p[r * classes + c];
      const b = acc[Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1))];
      b.count++;
      b.confidence += conf;
      b.accuracy += c === y[r] ? 1 : 0;
    }
    for (const b of acc) {
      if (b.count > 0) {
        b.confidence /= b.count;
        b.accuracy /= b.count;
      }
    }
    return {bins: acc};
  },
  expectedCalibrationError(probs, labels, {bins = 15} = {}) {
    const {bins: table} = metrics.reliabilityDiagram(probs, labels, {bins});
    const n = table.reduce((s, b) => s + b.count, 0);
    return table.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0);
  },
  /** P(score of a positive > score of a negative) + ½ P(tie), by ranks. */
  auroc(scoresPositive, scoresNegative) {
    const pos = scoresPositive instanceof tf.Tensor ? scoresPositive.dataSync() : scoresPositive;
    const neg = scoresNegative instanceof tf.Tensor ? scoresNegative.dataSync() : scoresNegative;
    const all = [];
    for (const v of pos) all.push([v, 1]);
    for (const v of neg) all.push([v, 0]);
    all.sort((a, b) => a[0] - b[0]);
    let rankSumPos = 0;
    for (let i = 0; i < all.length;) {
      let j = i;
      while (j < all.length && all[j][0] === all[i][0]) j++;
      const midRank = (i + 1 + j) / 2;
      for (let k = i; k < j; k++) if (all[k][1] === 1) rankSumPos += midRank;
      i = j;
    }
    const np = pos.length;
    const nn = neg.length;
    return (rankSumPos - np * (np + 1) / 2) / (np * nn);
  },
};
