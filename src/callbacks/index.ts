export {KLAnnealing, findKLLayers, klAnnealing} from './kl_annealing';
export type {KLAnnealingArgs} from './kl_annealing';
