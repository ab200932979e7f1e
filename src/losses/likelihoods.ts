/**
 * Likelihood losses: the data term `−log p(x|z)` of a variational objective,
 * as loss functions for `model.compile`. Each returns one value per example
 * (summed over every event dimension), so the compiled loss — tfjs-layers
 * takes its batch mean — is on the same per-example scale as a KL divergence
 * added by `tfv.layers.klDivergence`, and their sum is the negative ELBO.
 *
 * The losses live in one file per likelihood (`bernoulli.ts`, `gaussian.ts`,
 * `categorical.ts`) over `shared.ts`; this module re-exports them under the
 * path other modules have imported.
 */
export {bernoulliNLL, bernoulliNLLFromLogits, bernoulliNLLFromProbs} from './bernoulli';
export type {BernoulliNLLArgs} from './bernoulli';
export {categoricalNLL, categoricalNLLFromLogits, categoricalNLLFromProbs} from './categorical';
export type {CategoricalNLLArgs} from './categorical';
export {gaussianNLL, gaussianNLLFixedScale, gaussianNLLLearnedVariance} from './gaussian';
export type {GaussianNLLArgs} from './gaussian';
export {checkTargetValues, PROBABILITY_EPSILON, samplesPerExample} from './shared';
export type {LikelihoodLoss} from './shared';
