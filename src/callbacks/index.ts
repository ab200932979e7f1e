/** `tfv.callbacks`: annealing of divergence multipliers, and a guard against non-finite losses. */
export {KLAnnealing, findKLLayers, klAnnealing} from './kl_annealing';
export type {KLAnnealingArgs} from './kl_annealing';
export {TerminateOnNaN, terminateOnNaN} from './terminate_on_nan';
export type {NonFiniteLoss, TerminateOnNaNArgs} from './terminate_on_nan';
