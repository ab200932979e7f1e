export {KLDivergenceLayer, KLDivergenceLayerArgs, klDivergence, gaussianKL, gaussianKLElementwise} from './kl_divergence';
export {InferenceMode, Reparameterize, ReparameterizeArgs, reparameterize, reparameterizeWithNoise, repeatRows} from './reparameterize';
