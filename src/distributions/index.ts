/**
 * `tfv.distributions`: the math core shared by priors, layers and losses.
 * Element-wise normal log-densities and KL divergences, the softplus
 * transform of learned scales, and a small distribution toolkit — `Normal`,
 * `Bernoulli`, `Categorical`, `MixtureOfGaussians`, `Gamma` with `sample`,
 * `logProb`, `sampleAndLogProb`, `entropy` and `mean` — with the `kl(q, p)`
 * registry of closed forms and its Monte Carlo fallback; the special
 * functions `lgamma`, `digamma`, `trigamma` as tf ops (and `lgammaNumber`).
 */
export {HALF_LOG_TWO_PI, inverseSoftplusScale, normalKL, normalLogProb, normalLogProbOfNoise, SCALE_FLOOR, softplusScale} from './normal';
export {Distribution} from './distribution';
export type {NestedNumbers, Param} from './distribution';
export {Normal} from './normal_distribution';
export type {NormalArgs} from './normal_distribution';
export {Bernoulli} from './bernoulli';
export type {BernoulliArgs} from './bernoulli';
export {Categorical} from './categorical';
export type {CategoricalArgs} from './categorical';
export {MixtureOfGaussians} from './mixture_of_gaussians';
export type {MixtureOfGaussiansArgs} from './mixture_of_gaussians';
export {RelaxedOneHotCategorical} from './relaxed_one_hot_categorical';
export type {RelaxedOneHotCategoricalArgs} from './relaxed_one_hot_categorical';
export {kl, registerKL} from './kl';
export {digamma, lgamma, lgammaNumber, trigamma} from './special';
export {Gamma} from './gamma';
export type {GammaArgs} from './gamma';
export type {DistributionClass, KLFunction, KLOptions} from './kl';
