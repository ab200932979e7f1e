/**
 * `tfv.objectives`: multi-sample variational bounds as compiled losses (the
 * k-sample ELBO, IWAE, the Rényi bound), built on the per-sample log-weights
 * of the latent layers; and the importance-sampled log-likelihood estimate.
 */
export {elbo, iwae, renyi} from './bounds';
export type {BoundArgs, BoundLoss, RenyiBoundArgs} from './bounds';
export {estimateLogLikelihood} from './log_likelihood';
export type {EstimateLogLikelihoodArgs, LogLikelihoodEstimate} from './log_likelihood';
