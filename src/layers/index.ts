export {KLDivergenceLayer, klDivergence, gaussianKL, gaussianKLElementwise} from './kl_divergence';
export type {KLDivergenceLayerArgs} from './kl_divergence';
export {Reparameterize, reparameterize, reparameterizeWithNoise, repeatRows} from './reparameterize';
export type {InferenceMode, ReparameterizeArgs} from './reparameterize';
export {GaussianOutput, gaussianOutput} from './gaussian_output';
