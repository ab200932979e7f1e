/**
 * Calibration of a classifier's confidence: the reliability diagram and the
 * expected and maximum calibration errors (Guo et al. 2017,
 * arXiv:1706.04599, §2; Naeini et al. 2015).
 */
import {checkKnownOptions, checkPositiveInteger} from '../util/validate';
import {argMaxRows, LabelsInput, ProbabilitiesInput, readLabels, readProbabilities} from './inputs';

export interface CalibrationArgs {
  /** Equal-width confidence bins on [0, 1], a positive integer. Default 15 (Guo et al.). */
  bins?: number;
}

/** One confidence bin `(lower, upper]` (the first bin also holds confidence 0). */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  /** Examples whose confidence falls in the bin. */
  count: number;
  /** Fraction of them classified correctly; null for an empty bin. */
  accuracy: number|null;
  /** Their mean confidence; null for an empty bin. */
  confidence: number|null;
}

export interface ReliabilityDiagram {
  bins: ReliabilityBin[];
  /** `Σ_b (n_b/N) |acc_b − conf_b|`. */
  ece: number;
  /** `max_b |acc_b − conf_b|` over the non-empty bins. */
  maxCalibrationError: number;
  /** N, the examples counted. */
  numExamples: number;
}

/** The bin of confidence `c` among `bins` equal bins `(j/B, (j+1)/B]`, with 0 in the first. */
function binOf(c: number, bins: number): number {
  let j = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
  // c·B can round across an edge: settle against the edges exactly as reported (lower = j/B).
  if (j > 0 && c <= j / bins) j--;
  if (j < bins - 1 && c > (j + 1) / bins) j++;
  return j;
}

/**
 * The reliability diagram of class probabilities `probs` `[N, …, C]` against
 * `labels` (class indices `[N, …]` or one-hot `[N, …, C]`): each example's
 * confidence is its largest probability and its prediction that class (the
 * first, on ties); the examples are binned by confidence into `bins`
 * equal-width bins, and for each bin b with n_b examples
 *
 *     acc_b  = (1/n_b) Σ_{i ∈ b} 1[ŷ_i = y_i]
 *     conf_b = (1/n_b) Σ_{i ∈ b} max_c p_ic
 *     ECE    = Σ_b (n_b / N) |acc_b − conf_b|
 *     MCE    = max_{b: n_b > 0} |acc_b − conf_b|
 *
 * (Guo et al. 2017, arXiv:1706.04599, eqs. 2–5). Computed in float64 on the CPU.
 *
 * ```js
 * const {bins, ece, maxCalibrationError} = await tfv.metrics.reliabilityDiagram(probs, labels, {bins: 10});
 * ```
 */
export async function reliabilityDiagram(probs: ProbabilitiesInput, labels: LabelsInput,
    args: CalibrationArgs = {}): Promise<ReliabilityDiagram> {
  return diagram('reliabilityDiagram', probs, labels, args);
}

/**
 * The expected calibration error `Σ_b (n_b / N) |acc_b − conf_b|` over
 * `bins` equal-width bins of the confidence `max_c p_c` (Guo et al. 2017):
 * 0 for a perfectly calibrated classifier, at most 1. See
 * `reliabilityDiagram` for the bins.
 *
 * ```js
 * const ece = await tfv.metrics.expectedCalibrationError(probs, labels);  // 15 bins
 * ```
 */
export async function expectedCalibrationError(probs: ProbabilitiesInput, labels: LabelsInput,
    args: CalibrationArgs = {}): Promise<number> {
  return (await diagram('expectedCalibrationError', probs, labels, args)).ece;
}

async function diagram(where: string, probs: unknown, labels: unknown, args: CalibrationArgs): Promise<ReliabilityDiagram> {
  checkKnownOptions(where, args, ['bins']);
  const bins = args.bins === undefined ? 15 : checkPositiveInteger(where, 'bins', args.bins);
  const rows = await readProbabilities(where, probs);
  const y = await readLabels(where, labels, rows);
  const {predicted, confidence} = argMaxRows(rows);
  const count = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  const sumConf = new Array<number>(bins).fill(0);
  for (let i = 0; i < rows.n; i++) {
    const j = binOf(confidence[i], bins);
    count[j]++;
    sumConf[j] += confidence[i];
    if (predicted[i] === y[i]) correct[j]++;
  }
  let ece = 0;
  let mce = 0;
  const out: ReliabilityBin[] = [];
  for (let j = 0; j < bins; j++) {
    const empty = count[j] === 0;
    const accuracy = empty ? null : correct[j] / count[j];
    const conf = empty ? null : sumConf[j] / count[j];
    if (accuracy !== null && conf !== null) {
      const gap = Math.abs(accuracy - conf);
      ece += (count[j] / rows.n) * gap;
      mce = Math.max(mce, gap);
    }
    out.push({lower: j / bins, upper: (j + 1) / bins, count: count[j], accuracy, confidence: conf});
  }
  return {bins: out, ece, maxCalibrationError: mce, numExamples: rows.n};
}
