/**
 * `tfv.layers`: the probabilistic layers. Importing registers each class for
 * serialization, so `tf.loadLayersModel` finds them.
 */
export {KLDivergenceLayer, klDivergence, gaussianKL, gaussianKLElementwise} from './kl_divergence';
export type {KLDivergenceLayerArgs} from './kl_divergence';
export type {KLPriorSpec, LearnedPriorSpec} from './kl_prior';
export {Reparameterize, reparameterize, reparameterizeWithNoise} from './reparameterize';
export type {ReparameterizeArgs} from './reparameterize';
export type {InferenceMode} from './inference_mode';
export {GaussianOutput, gaussianOutput} from './gaussian_output';
export {BayesianDense, bayesianDense} from './bayesian_dense';
export type {BayesianDenseArgs, BayesianDenseEstimator} from './bayesian_dense';
export {BayesianConv2D, bayesianConv2d} from './bayesian_conv2d';
export type {BayesianConv2DArgs, BayesianConv2DDataFormat, BayesianConv2DEstimator, BayesianConv2DPadding} from './bayesian_conv2d';
export {denseFlipout, denseLocalReparameterization, denseMean, denseReparameterization} from './dense_estimators';
export type {DensePosterior, FlipoutNoise, LocalReparameterizationNoise, ReparameterizationNoise} from './dense_estimators';
export {DivergenceLayer} from './divergence_layer';
export type {KLWeighted} from './kl_weight';
export type {AnyTensor, LayerIO} from './apply_types';
export {GumbelSoftmax, gumbelSoftmax} from './gumbel_softmax';
export type {GumbelSoftmaxArgs, GumbelSoftmaxInferenceMode, GumbelSoftmaxKL, GumbelSoftmaxPrior} from './gumbel_softmax';
