/** `tfv.callbacks`: scheduled scalars (annealing of divergence multipliers and temperatures), and a guard against non-finite losses. */
export {ScheduledScalar, scheduledScalar} from './scheduled_scalar';
export type {ScheduledScalarArgs} from './scheduled_scalar';
export {KLAnnealing, findKLLayers, klAnnealing} from './kl_annealing';
export type {KLAnnealingArgs} from './kl_annealing';
export {TemperatureAnnealing, temperatureAnnealing} from './temperature_annealing';
export type {Tempered, TemperatureAnnealingArgs} from './temperature_annealing';
export {TerminateOnNaN, terminateOnNaN} from './terminate_on_nan';
export type {NonFiniteLoss, TerminateOnNaNArgs} from './terminate_on_nan';
