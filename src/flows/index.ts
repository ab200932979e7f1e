/**
 * `tfv.flows`: normalizing flows as layers that are also bijectors
 * (`forwardAndLogDet`), and the chain that composes them and sums their
 * log-det-Jacobians. Importing registers each class for serialization.
 */
export type {Bijector, ChainParams} from './bijector';
export {chainForwardAndLogDet, chainInverseAndLogDet} from './bijector';
export {FlowLayer} from './flow_layer';
export {PlanarFlow, planarFlow} from './planar_flow';
export type {PlanarFlowArgs} from './planar_flow';
export {RadialFlow, radialFlow} from './radial_flow';
export type {RadialFlowArgs} from './radial_flow';
export {InverseAutoregressiveFlow, inverseAutoregressiveFlow} from './inverse_autoregressive_flow';
export type {InverseAutoregressiveFlowArgs} from './inverse_autoregressive_flow';
export type {MadeActivation} from './made';
export {FlowPosterior, flowPosterior} from './flow_posterior';
export type {FlowPosteriorArgs} from './flow_posterior';
