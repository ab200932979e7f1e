/**
 * `tfv.losses`: likelihood losses for `model.compile` and the per-element
 * negative log-likelihoods they are built from.
 */
export {bernoulliNLL, bernoulliNLLFromLogits, bernoulliNLLFromProbs} from './bernoulli';
export type {BernoulliNLLArgs} from './bernoulli';
export {categoricalNLL, categoricalNLLFromLogits, categoricalNLLFromProbs} from './categorical';
export type {CategoricalNLLArgs} from './categorical';
export {gaussianNLL, gaussianNLLFixedScale, gaussianNLLLearnedVariance} from './gaussian';
export type {GaussianNLLArgs} from './gaussian';
export {PROBABILITY_EPSILON} from './shared';
export type {LikelihoodLoss} from './shared';
