/**
 * `tfv.losses`: likelihood losses for `model.compile` and the per-element
 * negative log-likelihoods they are built from.
 */
export {
  bernoulliNLL,
  bernoulliNLLFromLogits,
  bernoulliNLLFromProbs,
  categoricalNLL,
  categoricalNLLFromLogits,
  categoricalNLLFromProbs,
  gaussianNLL,
  gaussianNLLFixedScale,
  gaussianNLLLearnedVariance,
  PROBABILITY_EPSILON,
} from './likelihoods';
export type {BernoulliNLLArgs, CategoricalNLLArgs, GaussianNLLArgs, LikelihoodLoss} from './likelihoods';
