/**
 * The importance-sampled estimate of a latent-variable model's
 * log-likelihood, the figure papers report for VAEs (Burda et al. 2016,
 * arXiv:1509.00519, §5; Rezende et al. 2014, appendix E).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {clearLogWeights, isBoundLoss, takeLogWeights, withEstimationScope} from '../engine/log_weights';
import type {LikelihoodLoss} from '../losses';
import {argumentError, checkKnownOptions, checkPositiveInteger} from '../util/validate';
import {configureLatents} from './latents';

export interface EstimateLogLikelihoodArgs {
  /** Importance samples S per example. Default 5000. */
  samples?: number;
  /** Examples per forward pass. Default 100. */
  batchSize?: number;
  /**
   * Samples drawn per example in one forward pass (the decoder sees
   * `batchSize · chunkSize` rows). Default: as many as keep one pass's
   * output below 2²² values (16 MB of float32), at least 1.
   */
  chunkSize?: number;
  /**
   * The likelihood `p(x|z)`. Default: the model's compiled loss when it is a
   * likelihood loss of `tfv.losses` or a bound of `tfv.objectives` (its
   * likelihood).
   */
  likelihood?: LikelihoodLoss;
  /**
   * Also return each example's figures (`perExample`), e.g. to compare two
   * models on the same examples with a paired standard error. Default false.
   */
  perExample?: boolean;
}

/** The estimate, in nats per example. */
export interface LogLikelihoodEstimate {
  /** Mean over examples of `log p̂(x) = log (1/S) Σ_s w_s`. */
  logLikelihood: number;
  /** Standard error of that mean across examples (sample standard deviation / √n). */
  standardError: number;
  /** Mean over examples of the ELBO estimated on the same draws, `(1/S) Σ_s log w_s` (≤ logLikelihood). */
  elbo: number;
  numExamples: number;
  /** With `perExample: true`: `log p̂(x)` and the ELBO of each example, in the order of x. */
  perExample?: {logLikelihood: Float64Array, elbo: Float64Array};
}

const OUTPUT_BUDGET = 2 ** 22;

function modelLikelihood(model: tfl.LayersModel, given: LikelihoodLoss|undefined): LikelihoodLoss {
  const where = 'estimateLogLikelihood';
  if (given !== undefined) {
    if (typeof given !== 'function' || typeof (given as Partial<LikelihoodLoss>).perSample !== 'function') {
      throw argumentError(where, 'likelihood', 'a likelihood loss of tfv.losses (with perSample)', given);
    }
    return given;
  }
  const inner = (model as unknown as {model?: unknown}).model;
  const m = (inner instanceof tfl.LayersModel ? inner : model) as unknown as {lossFunctions?: unknown[]};
  const loss = m.lossFunctions?.[0];
  if (isBoundLoss(loss)) return (loss as unknown as {likelihood: LikelihoodLoss}).likelihood;
  if (typeof loss === 'function' && typeof (loss as Partial<LikelihoodLoss>).perSample === 'function') {
    return loss as LikelihoodLoss;
  }
  throw new Error(`${where}: model '${model.name}' is not compiled with a likelihood loss of tfv.losses or a bound of ` +
      'tfv.objectives; compile it with one, or pass {likelihood}');
}

function compiledWithBound(model: tfl.LayersModel): boolean {
  const inner = (model as unknown as {model?: unknown}).model;
  const m = (inner instanceof tfl.LayersModel ? inner : model) as unknown as {lossFunctions?: unknown[]};
  return (m.lossFunctions ?? []).some(isBoundLoss);
}

/**
 * Estimates `log p(x)` per example by importance sampling with the model's
 * own posterior as the proposal,
 *
 *     log p(x) ≈ log (1/S) Σ_s p(x, z_s) / q(z_s | x),   z_s ~ q(z|x),
 *
 * (the IWAE bound with S samples: a lower bound in expectation that tightens
 * to log p(x) as S grows), computed per example with a log-sum-exp kept in
 * float64 across chunks of samples. Works for any model built from
 * `tfv.layers.reparameterize` latents (with a `klDivergence` layer upstream
 * giving the prior, or N(0, I)), single input and single output, whether it
 * was trained with the ELBO or a bound.
 *
 * ```js
 * const {logLikelihood, standardError, elbo} = await tfv.estimateLogLikelihood(vae, xTest, xTest, {samples: 5000});
 * console.log(`log p(x) ≈ ${logLikelihood.toFixed(2)} ± ${standardError.toFixed(2)} nats (ELBO ${elbo.toFixed(2)})`);
 * ```
 */
export async function estimateLogLikelihood(
    model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, args: EstimateLogLikelihoodArgs = {}): Promise<LogLikelihoodEstimate> {
  const where = 'estimateLogLikelihood';
  checkKnownOptions(where, args, ['samples', 'batchSize', 'chunkSize', 'likelihood', 'perExample']);
  if (args.perExample !== undefined && typeof args.perExample !== 'boolean') {
    throw argumentError(where, 'perExample', 'a boolean', args.perExample);
  }
  if (!(model instanceof tfl.LayersModel)) throw argumentError(where, 'model', 'a tf.LayersModel', model);
  for (const [name, t] of [['x', x], ['y', y]] as const) {
    if (!(t instanceof tf.Tensor)) throw argumentError(where, name, 'a tf.Tensor', t);
  }
  if (x.shape[0] !== y.shape[0]) {
    throw new Error(`${where}: expected x and y to hold the same number of examples. ` +
        `Received: x shape=[${x.shape}], y shape=[${y.shape}]`);
  }
  const n = x.shape[0];
  if (n === 0) throw new Error(`${where}: the data holds no examples`);
  const samples = args.samples === undefined ? 5000 : checkPositiveInteger(where, 'samples', args.samples);
  const batchSize = Math.min(n, args.batchSize === undefined ? 100 : checkPositiveInteger(where, 'batchSize', args.batchSize));
  const likelihood = modelLikelihood(model, args.likelihood);
  const perRow = Math.max(1, tf.util.sizeFromShape(y.shape.slice(1)));
  const chunk = Math.min(samples, args.chunkSize === undefined ?
      Math.max(1, Math.floor(OUTPUT_BUDGET / (batchSize * perRow))) : checkPositiveInteger(where, 'chunkSize', args.chunkSize));

  const restoreBound = compiledWithBound(model);
  if (configureLatents(model, true) === 0) {
    configureLatents(model, restoreBound);
    throw new Error(`${where}: model '${model.name}' has no tfv.layers.reparameterize layer to sample from`);
  }
  const logLik = new Float64Array(n);
  const elbo = new Float64Array(n);
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const xb = tf.slice(x, start, size);
      const yb = tf.slice(y, start, size);
      // Per example, in float64: running maximum, Σ e^{log w − max}, Σ log w.
      const max = new Float64Array(size).fill(-Infinity);
      const sumExp = new Float64Array(size);
      const sumLog = new Float64Array(size);
      try {
        for (let drawn = 0; drawn < samples; drawn += chunk) {
          const c = Math.min(chunk, samples - drawn);
          const logWeights = tf.tidy(() => withEstimationScope(c, () => {
            const out = model.apply(xb, {training: false}) as tf.Tensor;
            const nll = likelihood.perSample(yb, out);  // [size, c]
            return tf.sub(takeLogWeights(where, size, c), nll);
          }));
          const values = await logWeights.data();
          logWeights.dispose();
          for (let b = 0; b < size; b++) {
            // Math.max propagates NaN; a NaN or ±∞ maximum is then the example's result.
            let m = max[b];
            for (let s = 0; s < c; s++) {
              m = Math.max(m, values[b * c + s]);
              sumLog[b] += values[b * c + s];
            }
            if (Number.isFinite(m)) {
              let acc = sumExp[b] * Math.exp(max[b] - m);  // rescale what was summed under the old maximum
              for (let s = 0; s < c; s++) acc += Math.exp(values[b * c + s] - m);
              sumExp[b] = acc;
            }
            max[b] = m;
          }
        }
      } finally {
        tf.dispose([xb, yb]);
      }
      for (let b = 0; b < size; b++) {
        logLik[start + b] = Number.isFinite(max[b]) ? max[b] + Math.log(sumExp[b]) - Math.log(samples) : max[b];
        elbo[start + b] = sumLog[b] / samples;
      }
    }
  } finally {
    clearLogWeights();
    configureLatents(model, restoreBound);
  }
  let mean = 0;
  let meanElbo = 0;
  for (let i = 0; i < n; i++) {
    mean += logLik[i] / n;
    meanElbo += elbo[i] / n;
  }
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (logLik[i] - mean) ** 2;
  const standardError = n > 1 ? Math.sqrt(sq / (n - 1) / n) : NaN;
  const result: LogLikelihoodEstimate = {logLikelihood: mean, standardError, elbo: meanElbo, numExamples: n};
  if (args.perExample === true) result.perExample = {logLikelihood: logLik, elbo};
  return result;
}
