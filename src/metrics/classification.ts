/** Accuracy and the negative log-likelihood of class probabilities. */
import {PROBABILITY_EPSILON} from '../losses/shared';
import {argMaxRows, LabelsInput, ProbabilitiesInput, readLabels, readProbabilities} from './inputs';

/**
 * The fraction of examples whose most probable class (the first, on ties)
 * is the label: `(1/N) Σ_i 1[argmax_c p_ic = y_i]`. `probs` `[N, …, C]`,
 * `labels` class indices `[N, …]` or one-hot `[N, …, C]`.
 *
 * ```js
 * const acc = await tfv.metrics.accuracy(probs, labels);
 * ```
 */
export async function accuracy(probs: ProbabilitiesInput, labels: LabelsInput): Promise<number> {
  const where = 'accuracy';
  const rows = await readProbabilities(where, probs);
  const y = await readLabels(where, labels, rows);
  const {predicted} = argMaxRows(rows);
  let hits = 0;
  for (let i = 0; i < rows.n; i++) if (predicted[i] === y[i]) hits++;
  return hits / rows.n;
}

/**
 * The mean negative log-likelihood of the labels, in nats:
 * `(1/N) Σ_i −log max(p_{i,y_i}, 1e-7)` — the clip of
 * `tfv.losses.categoricalNLL` (`PROBABILITY_EPSILON`), so a probability of
 * 0 for the true class costs 16.1 nats instead of ∞. Float64 on the CPU.
 *
 * ```js
 * const nll = await tfv.metrics.negativeLogLikelihood(probs, labels);
 * ```
 */
export async function negativeLogLikelihood(probs: ProbabilitiesInput, labels: LabelsInput): Promise<number> {
  const where = 'negativeLogLikelihood';
  const rows = await readProbabilities(where, probs);
  const y = await readLabels(where, labels, rows);
  let sum = 0;
  for (let i = 0; i < rows.n; i++) sum -= Math.log(Math.max(rows.data[i * rows.c + y[i]], PROBABILITY_EPSILON));
  return sum / rows.n;
}
