export {KLAnnealing, KLAnnealingArgs, findKLLayers, klAnnealing} from './kl_annealing';
