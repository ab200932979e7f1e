/**
 * Monte Carlo prediction: S stochastic forward passes of a model, reduced on
 * the fly to per-example summaries of the predictive distribution.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {modelLayers} from '../layers/model_layers';
import {argumentError, checkBoolean, checkKnownOptions, checkOneOf, checkPositiveInteger} from '../util/validate';
import {Accumulator, ClassificationAccumulator, RegressionAccumulator} from './accumulators';
import {stochasticLayers} from './inference_switch';
import {inferTask, isGaussianOutput, outputLayer, PredictiveTask} from './task';

export type {PredictiveTask} from './task';

const TASKS: readonly PredictiveTask[] = ['regression', 'classification'];
const ARG_NAMES = ['samples', 'batchSize', 'task', 'fromLogits', 'gaussianHead', 'resetSeeds'];

export interface PredictiveArgs {
  /** Stochastic forward passes per example, S ≥ 1. */
  samples: number;
  /**
   * Examples per `model.predict` call, a positive integer: memory holds one
   * batch's outputs and running sums, never all S passes. Default 32.
   */
  batchSize?: number;
  /**
   * What the outputs are: `'classification'` (class probabilities, or logits
   * with `fromLogits`, on the last axis) or `'regression'`. Default: read
   * from the model — classification when its output layer has a softmax
   * activation or it was compiled with `categoricalCrossentropy`,
   * `sparseCategoricalCrossentropy` or `tfv.losses.categoricalNLL`;
   * regression when its output layer is linear or a `gaussianOutput`, or it
   * was compiled with a regression loss (`meanSquaredError`, …,
   * `tfv.losses.gaussianNLL`); otherwise an error asks for `task`.
   */
  task?: PredictiveTask;
  /** Classification: the outputs are logits; probabilities are their softmax. Default false. */
  fromLogits?: boolean;
  /**
   * Regression: the output is a Gaussian head — one tensor `[…, 2·d]`
   * holding mean then log-variance (`tfv.layers.gaussianOutput`), or two
   * outputs `[mean, logVar]` — and its variance (the aleatoric part) enters
   * `stddev`. Default: true when the model's one output layer is a
   * `GaussianOutput`, else false.
   */
  gaussianHead?: boolean;
  /**
   * Restart the seed stream of every layer of the model (`resetSeed()`)
   * before each batch, so that pass s of every batch draws with the layers'
   * s-th seeds: with seeded layers the result repeats exactly, run after
   * run. Needs every sampling stochastic layer to have a `seed` (an error
   * names those without). Default false: the layers' streams run on, so
   * repeated calls draw fresh noise.
   */
  resetSeeds?: boolean;
}

/** `task: 'regression'`: per-example summaries `[N, …]` of the S predictions. */
export interface RegressionPrediction {
  task: 'regression';
  /** The Monte Carlo predictive mean, `(1/S) Σ_s μ_s`. */
  mean: tf.Tensor;
  /**
   * The predictive standard deviation: of the S predictions (epistemic), and
   * with a Gaussian head of the S-component mixture,
   * `√((1/S) Σ_s σ²_s + (1/S) Σ_s (μ_s − mean)²)`.
   */
  stddev: tf.Tensor;
  /** Gaussian head only: `√((1/S) Σ_s (μ_s − mean)²)`, the spread of the means. */
  epistemicStddev?: tf.Tensor;
  /** Gaussian head only: `√((1/S) Σ_s σ²_s)`, the mean predicted variance's root. */
  aleatoricStddev?: tf.Tensor;
  /** Draws per example: `samples` × the draws each pass gives (a layer's `samples: k`). */
  samples: number;
}

/** `task: 'classification'`: per-example summaries (nats) of the S class distributions. */
export interface ClassificationPrediction {
  task: 'classification';
  /** `p̄ = (1/S) Σ_s p_s`, `[N, …, C]`. */
  probs: tf.Tensor;
  /** `H[p̄] = −Σ_c p̄_c log p̄_c`, `[N, …]`. */
  predictiveEntropy: tf.Tensor;
  /** `(1/S) Σ_s H[p_s]`, `[N, …]`. */
  expectedEntropy: tf.Tensor;
  /** `max(0, H[p̄] − (1/S) Σ_s H[p_s])` (BALD), `[N, …]`. */
  mutualInformation: tf.Tensor;
  /** Draws per example: `samples` × the draws each pass gives (a layer's `samples: k`). */
  samples: number;
}

export type Prediction = RegressionPrediction|ClassificationPrediction;

const WHERE = 'predictive';

/** Shapes as error messages print them: `[2, 3], [2, 3]`. */
function showShapes(tensors: tf.Tensor[]): string {
  return tensors.map((t) => `[${t.shape.join(', ')}]`).join(', ');
}

// ------------------------------------------------------------ arguments

function checkInputs(model: tfl.LayersModel, x: unknown): tf.Tensor[] {
  const list = Array.isArray(x) ? x : [x];
  if (list.length === 0 || !list.every((t) => t instanceof tf.Tensor)) {
    throw argumentError(WHERE, 'x', 'a tf.Tensor or an array of tf.Tensors (one per model input)', x);
  }
  const tensors = list as tf.Tensor[];
  const expected = (model.inputs ?? []).length;
  if (expected > 0 && tensors.length !== expected) {
    throw new Error(`${WHERE}: expected x to hold one tensor per model input (${expected}). Received: ${tensors.length} tensors`);
  }
  const n = tensors[0].rank === 0 ? -1 : tensors[0].shape[0];
  if (n < 1 || tensors.some((t) => t.rank === 0 || t.shape[0] !== n)) {
    throw new Error(`${WHERE}: expected x's tensors to share a first (batch) axis of at least one example. ` +
        `Received: x shapes=${showShapes(tensors)}`);
  }
  return tensors;
}

/** The draws per example in one pass's outputs: their rows are `b·k`, example-major. */
function drawsPerPass(outputs: tf.Tensor[], b: number): number {
  const rows = outputs[0].rank === 0 ? 0 : outputs[0].shape[0];
  if (rows < b || rows % b !== 0 || outputs.some((o) => o.rank === 0 || o.shape[0] !== rows)) {
    throw new Error(`${WHERE}: expected the model's outputs to have b or b·k rows for a batch of b = ${b} examples ` +
        `(k draws per example, example-major). Received: output shapes=${showShapes(outputs)}`);
  }
  return rows / b;
}

/** Classification needs a class axis after the batch axis: `[b, …, C]`. */
function checkClassAxis(out: tf.Tensor): void {
  if (out.rank < 2) {
    throw new Error(`${WHERE}: task 'classification' expects outputs [batch, ..., classes] (classes on the last axis). ` +
        `Received: output shape=${showShapes([out])}`);
  }
}

/** A Gaussian head: one output `[…, 2·d]` (mean then log-variance) or two of equal shapes. */
function checkGaussianHead(outputs: tf.Tensor[]): void {
  const ok = outputs.length === 2 ? outputs[0].shape.join() === outputs[1].shape.join() :
      outputs[0].rank >= 2 && outputs[0].shape[outputs[0].rank - 1] % 2 === 0;
  if (!ok) {
    throw new Error(`${WHERE}: gaussianHead expects one output [..., 2·d] (mean then log-variance) or two outputs ` +
        `[mean, logVar] of equal shapes. Received: output shapes=${showShapes(outputs)}`);
  }
}

/** Class probabilities are non-negative and sum to 1 on the last axis; logits passed as probabilities are caught here. */
async function checkProbabilities(p: tf.Tensor): Promise<void> {
  const [minT, devT] = tf.tidy(() => [tf.min(p), tf.max(tf.abs(tf.sub(tf.sum(p, -1), 1)))]);
  const [min, dev] = [(await minT.data())[0], (await devT.data())[0]];
  minT.dispose();
  devT.dispose();
  if (!(min >= -1e-6 && dev <= 1e-3)) {
    throw new Error(`${WHERE}: expected the model's outputs to be class probabilities (non-negative, summing to 1 ` +
        `over the last axis); pass fromLogits: true for logits. Received: outputs with minimum ${min} ` +
        `and row sums off 1 by up to ${dev}`);
  }
}

// ------------------------------------------------------------ predictive

/**
 * Monte Carlo prediction. Runs `samples` stochastic forward passes of the
 * model (`model.predict`, so `training` is false and every stochastic layer
 * does what its `inferenceMode` says: by default it samples), `batchSize`
 * examples at a time, keeping only running sums per example, and returns
 * per-example summaries, new tensors the caller disposes.
 *
 * **Classification** (outputs p_s on the last axis, or logits with
 * `fromLogits`), in nats, with `0 log 0 = 0`:
 *
 *     probs              p̄ = (1/S) Σ_s p_s
 *     predictiveEntropy  H[p̄] = −Σ_c p̄_c log p̄_c                   (total uncertainty)
 *     expectedEntropy    E[H] = (1/S) Σ_s H[p_s]                     (aleatoric)
 *     mutualInformation  I = H[p̄] − E[H] ≥ 0                         (epistemic; BALD)
 *
 * (Houlsby et al. 2011, arXiv:1112.5745; Gal et al. 2017,
 * arXiv:1703.02910). I ≥ 0 holds exactly; float32 rounding below 0 is
 * clamped to 0. A deterministic model gives I = 0.
 *
 * **Regression**: `mean` = (1/S) Σ_s μ_s and `stddev`, the spread of the S
 * predictions, `√((1/S) Σ_s (μ_s − mean)²)` — the standard deviation of the
 * Monte Carlo predictive distribution (S equally weighted draws, hence 1/S).
 * With a Gaussian head (`gaussianHead`, automatic for a `gaussianOutput`)
 * each pass predicts N(μ_s, σ²_s) and the predictive is their mixture, whose
 * variance is the mean of the variances plus the variance of the means,
 *
 *     stddev² = (1/S) Σ_s σ²_s  +  (1/S) Σ_s (μ_s − mean)²   (aleatoric + epistemic),
 *
 * returned also as `aleatoricStddev` and `epistemicStddev`.
 *
 * A model whose latent layer draws k samples per example (`samples: k`,
 * outputs `[b·k, …]`) gives k draws per pass: S·k in all.
 *
 * **Modes**: for posterior-mean prediction there is no option here — set
 * the model's layers with `tfv.setInferenceMode(model, 'mean')` and call
 * `model.predict`; a layer left in `'mean'` (or GumbelSoftmax's `'mode'`)
 * contributes its deterministic output to every pass.
 *
 * **Repeatability**: with every stochastic layer seeded (`seed` in its
 * options) and `resetSeeds: true`, the layers' seed streams restart before
 * each batch, so a call repeats exactly. Layers that draw once per call
 * (`bayesianDense` with the default reparameterization estimator) then use
 * the same S weight draws for every batch, so the result does not depend on
 * `batchSize`; layers that draw per example (`reparameterize`, flipout,
 * local reparameterization) repeat too, but their draws follow an example's
 * position within its batch.
 *
 * ```js
 * const {probs, predictiveEntropy, mutualInformation} = await tfv.predictive(model, xTest, {samples: 100, task: 'classification'});
 * const ece = await tfv.metrics.expectedCalibrationError(probs, yTest);
 * tf.dispose([probs, predictiveEntropy, mutualInformation]);
 * ```
 */
export async function predictive(model: tfl.LayersModel, x: tf.Tensor|tf.Tensor[],
    args: PredictiveArgs & {task: 'classification'}): Promise<ClassificationPrediction>;
export async function predictive(model: tfl.LayersModel, x: tf.Tensor|tf.Tensor[],
    args: PredictiveArgs & {task: 'regression'}): Promise<RegressionPrediction>;
export async function predictive(model: tfl.LayersModel, x: tf.Tensor|tf.Tensor[], args: PredictiveArgs): Promise<Prediction>;
export async function predictive(model: tfl.LayersModel, x: tf.Tensor|tf.Tensor[], args: PredictiveArgs): Promise<Prediction> {
  const stochastic = stochasticLayers(WHERE, model);
  if (typeof (model as {predict?: unknown}).predict !== 'function') {
    throw argumentError(WHERE, 'model', 'a tf.LayersModel (tf.model or tf.sequential)', model);
  }
  if (args == null || typeof args !== 'object') throw argumentError(WHERE, 'args', 'an options object with samples', args);
  checkKnownOptions(WHERE, args, ARG_NAMES);
  const samples = checkPositiveInteger(WHERE, 'samples', args.samples);
  const batchSize = args.batchSize === undefined ? 32 : checkPositiveInteger(WHERE, 'batchSize', args.batchSize);
  const inputs = checkInputs(model, x);
  const task = args.task === undefined ? inferTask(WHERE, model) : checkOneOf(WHERE, 'task', args.task, TASKS);
  const fromLogits = args.fromLogits === undefined ? false : checkBoolean(WHERE, 'fromLogits', args.fromLogits);
  const resetSeeds = args.resetSeeds === undefined ? false : checkBoolean(WHERE, 'resetSeeds', args.resetSeeds);
  const gaussianHead = args.gaussianHead === undefined ?
      task === 'regression' && isGaussianOutput(outputLayer(model)) : checkBoolean(WHERE, 'gaussianHead', args.gaussianHead);
  if (task === 'regression' && fromLogits) {
    throw new Error(`${WHERE}: fromLogits applies to task 'classification'. Received: task='regression', fromLogits=true`);
  }
  if (task === 'classification' && gaussianHead) {
    throw new Error(`${WHERE}: gaussianHead applies to task 'regression'. Received: task='classification', gaussianHead=true`);
  }
  const numOutputs = (model.outputs ?? [null]).length;
  if (numOutputs !== 1 && !(gaussianHead && numOutputs === 2)) {
    const hint = gaussianHead ? ' (or two: [mean, logVar])' :
        task === 'regression' ? ', or gaussianHead: true for two outputs [mean, logVar]' : '';
    throw new Error(`${WHERE}: expected a model with one output${hint}. Received: ${numOutputs} outputs`);
  }
  const seeded = resetSeeds ? seedResetters(model, stochastic) : [];

  const n = inputs[0].shape[0];
  const parts: tf.Tensor[][] = [];
  let drawsPerExample = 0;
  let joined: tf.Tensor[]|null = null;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const batch = inputs.map((t) => b === n ? t : tf.slice(t, start, b));
      const acc: Accumulator = task === 'classification' ?
          new ClassificationAccumulator(b, fromLogits) : new RegressionAccumulator(b, gaussianHead);
      try {
        for (const layer of seeded) layer.resetSeed();
        for (let s = 0; s < samples; s++) {
          // One call per pass (batchSize b): predict's own batching would split the batch into several
          // applications, each with its own weight draw.
          const y = model.predict(batch.length === 1 ? batch[0] : batch, {batchSize: b});
          const outputs = Array.isArray(y) ? y : [y];
          try {
            const k = drawsPerPass(outputs, b);
            if (s === 0) {
              // The first pass of each batch shows what the outputs are.
              if (gaussianHead) checkGaussianHead(outputs);
              if (task === 'classification') checkClassAxis(outputs[0]);
              if (task === 'classification' && !fromLogits) await checkProbabilities(outputs[0]);
              drawsPerExample = k;
            }
            acc.add(outputs, k);
          } finally {
            tf.dispose(outputs);
          }
        }
        parts.push(acc.finish());
      } finally {
        acc.dispose();
        for (const t of batch) if (!inputs.includes(t)) t.dispose();
      }
    }
    joined = parts.length === 1 ? parts[0] : parts[0].map((_, i) => tf.concat(parts.map((p) => p[i]), 0));
    const total = samples * drawsPerExample;
    if (task === 'classification') {
      const [probs, predictiveEntropy, expectedEntropy, mutualInformation] = joined;
      return {task, probs, predictiveEntropy, expectedEntropy, mutualInformation, samples: total};
    }
    const [mean, stddev, epistemicStddev, aleatoricStddev] = joined;
    return gaussianHead ? {task, mean, stddev, epistemicStddev, aleatoricStddev, samples: total} : {task, mean, stddev, samples: total};
  } finally {
    // The batches' parts were concatenated (or, for one batch, are the result): free what is not returned.
    for (const p of parts) if (p !== joined) tf.dispose(p);
  }
}

/**
 * The layers whose seed streams `resetSeeds` restarts (every layer with
 * `resetSeed`), after checking that each stochastic layer that samples at
 * inference is seeded: an unseeded one would make the result vary anyway.
 */
function seedResetters(model: tfl.LayersModel, stochastic: Array<{name: string, inferenceMode: string}>): Array<{resetSeed(): void}> {
  const unseeded = stochastic.filter((layer) => {
    if (layer.inferenceMode !== 'sample') return false;
    const config = (layer as unknown as tfl.layers.Layer).getConfig();
    return config['seed'] == null;
  });
  if (unseeded.length > 0) {
    throw new Error(`${WHERE}: resetSeeds: true repeats a run only when every sampling layer has a seed. ` +
        `Received: unseeded layers ${unseeded.map((l) => `'${l.name}'`).join(', ')} (give them a seed option)`);
  }
  return modelLayers(model.layers).filter((l): l is tfl.layers.Layer & {resetSeed(): void} =>
    typeof (l as {resetSeed?: unknown}).resetSeed === 'function');
}
