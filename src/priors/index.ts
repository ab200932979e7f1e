/**
 * Weight priors for Bayesian layers. Importing this module registers each
 * prior under its alias (`'gaussian'`, `'scaleMixture'`, `'conjugate'`,
 * `'conjugateKnownMean'`, `'empiricalBayes'`) and class name.
 */
export {getPrior, JointPrior, Prior, registeredPriorNames, registerPrior, serializePrior} from './prior';
export type {BoundPrior, PriorClass, PriorConfig, PriorContext, PriorIdentifier, PriorNoise} from './prior';
export {gaussian, GaussianPrior} from './gaussian';
export type {GaussianPriorArgs} from './gaussian';
export {scaleMixture, ScaleMixturePrior} from './scale_mixture';
export type {ScaleMixturePriorArgs} from './scale_mixture';
export {conjugate, ConjugateKnownMeanPrior, conjugateKnownMean, ConjugatePrior} from './conjugate';
export type {ConjugateKnownMeanPriorArgs, ConjugatePriorArgs} from './conjugate';
export {empiricalBayes, EmpiricalBayesPrior} from './empirical_bayes';
export type {EmpiricalBayesPriorArgs} from './empirical_bayes';
