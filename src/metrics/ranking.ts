/** The area under the ROC curve by the rank (Mann–Whitney) statistic. */
import {readScores, ScoresInput} from './inputs';

/**
 * The area under the ROC curve of a score that should be higher for
 * positives than for negatives,
 *
 *     AUROC = (1 / (n₊ n₋)) Σ_i Σ_j (1[s⁺_i > s⁻_j] + ½ · 1[s⁺_i = s⁻_j]),
 *
 * the probability that a random positive outscores a random negative, ties
 * counted ½ (the Mann–Whitney U statistic over n₊ n₋; Hanley & McNeil
 * 1982): 1 separates perfectly, 0.5 is chance. Counted exactly after
 * sorting, O((n₊ + n₋) log(n₊ + n₋)); ±∞ are ordered, NaN is refused.
 *
 * Out-of-distribution detection: the predictive entropy (or mutual
 * information) of `tfv.predictive` on out-of-distribution inputs as
 * positives, on in-distribution inputs as negatives.
 *
 * ```js
 * const ood = await tfv.predictive(model, xOod, {samples: 50});
 * const ind = await tfv.predictive(model, xTest, {samples: 50});
 * const auc = await tfv.metrics.auroc(ood.predictiveEntropy, ind.predictiveEntropy);
 * ```
 */
export async function auroc(scoresPositive: ScoresInput, scoresNegative: ScoresInput): Promise<number> {
  const where = 'auroc';
  const pos = (await readScores(where, 'scoresPositive', scoresPositive)).sort();
  const neg = (await readScores(where, 'scoresNegative', scoresNegative)).sort();
  // For each positive (ascending), the negatives below it and equal to it, by two pointers.
  // Twice the count is an integer below 2^53 for any input that fits in memory: the sum is exact.
  let below = 0;
  let upTo = 0;
  let twiceU = 0;
  for (const s of pos) {
    while (below < neg.length && neg[below] < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < neg.length && neg[upTo] <= s) upTo++;
    twiceU += 2 * below + (upTo - below);
  }
  return twiceU / (2 * pos.length * neg.length);
}
