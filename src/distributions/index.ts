/**
 * The small distribution toolkit shared by priors and Bayesian layers:
 * element-wise normal log-densities and KL divergences, and the softplus
 * transform of learned scales.
 */
export {HALF_LOG_TWO_PI, inverseSoftplusScale, normalKL, normalLogProb, normalLogProbOfNoise, SCALE_FLOOR, softplusScale} from './normal';
