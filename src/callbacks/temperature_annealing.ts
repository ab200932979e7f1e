/**
 * Temperature annealing: lowers the temperature τ of relaxed samplers
 * (`GumbelSoftmax`) during `model.fit` (a scheduled scalar whose setter is
 * `setTemperature`).
 */
import {argumentError, checkKnownOptions, checkNonNegative, checkPositive, checkPositiveInteger} from '../util/validate';
import {ScheduledScalar} from './scheduled_scalar';

/** What `temperatureAnnealing` needs of a layer. */
export interface Tempered {
  /** The current temperature. */
  getTemperature(): number;
  /** Sets the temperature (> 0) for the following steps. */
  setTemperature(temperature: number): void;
}

export interface TemperatureAnnealingArgs {
  /**
   * τ as a function of the step (the epoch or global batch index, from 0;
   * see `unit`), returning a positive number. Default: Jang et al.'s
   * schedule from `initialTemperature`, `rate`, `minTemperature` and `every`
   * (which cannot be combined with `schedule`).
   */
  schedule?: (step: number) => number;
  /** τ₀, the temperature at step 0 of the default schedule. Default 1. */
  initialTemperature?: number;
  /** r ≥ 0, the decay rate per step of the default schedule. Default 1e-5. */
  rate?: number;
  /** τ_min > 0, the floor of the default schedule. Default 0.5. */
  minTemperature?: number;
  /** N, the default schedule changes τ every N steps. Default 500 with `unit: 'batch'`, 1 with `unit: 'epoch'`. */
  every?: number;
  /** What a step is: a `'batch'` (default, Jang et al.'s training step) or an `'epoch'`. */
  unit?: 'epoch'|'batch';
  /** The layers to anneal. Default: every layer of the model with `setTemperature`, nested models included. */
  layers?: Tempered[];
}

const TEMPERATURE_ANNEALING_ARG_NAMES = ['schedule', 'initialTemperature', 'rate', 'minTemperature', 'every', 'unit', 'layers'];

/**
 * Jang et al.'s annealing schedule: `τ(t) = max(τ_min, τ₀·e^{−r·t'})` with
 * `t' = N·⌊t/N⌋`, the step rounded down to a multiple of N.
 */
export function exponentialTemperatureSchedule(
    initialTemperature: number, rate: number, minTemperature: number, every: number): (step: number) => number {
  return (step) => Math.max(minTemperature, initialTemperature * Math.exp(-rate * every * Math.floor(step / every)));
}

/**
 * Sets the temperature τ of the model's relaxed samplers (`GumbelSoftmax`
 * layers) before each batch or epoch. By default it follows Jang et al.
 * (2017, arXiv:1611.01144): τ = max(τ_min, τ₀·exp(−r·t)) of the
 * global training step t, updated every N steps, with τ_min = 0.5 and the
 * rate r and interval N as hyperparameters (τ₀ = 1 there). The defaults
 * here: τ₀ = 1, r = 10⁻⁵, τ_min = 0.5, N = 500 batches (N = 1 with
 * `unit: 'epoch'`).
 *
 * ```js
 * await vae.fit(x, x, {epochs: 100, batchSize: 100, callbacks: [
 *   tfv.callbacks.temperatureAnnealing({rate: 1e-4})]});   // τ from 1 down to 0.5 at step ≈ 7,000
 * ```
 *
 * τ is the layers' non-trainable weight `temperature`, so a saved model
 * keeps its current value; the epoch logs report it as `temperature`.
 */
export class TemperatureAnnealing extends ScheduledScalar {
  constructor(args: TemperatureAnnealingArgs = {}) {
    super(temperatureScheduleArgs(args));
  }

  protected override callbackName(): string {
    return 'temperatureAnnealing';
  }

  protected override targetDescription(): string {
    return 'a temperature (setTemperature)';
  }
}

/** The scheduled-scalar arguments of `temperatureAnnealing`, checked. */
function temperatureScheduleArgs(args: TemperatureAnnealingArgs): ConstructorParameters<typeof ScheduledScalar>[0] {
  const where = 'temperatureAnnealing';
  checkKnownOptions(where, args, TEMPERATURE_ANNEALING_ARG_NAMES);
  const a = args ?? {};
  const unit = a.unit ?? 'batch';
  let schedule = a.schedule;
  const defaults = (['initialTemperature', 'rate', 'minTemperature', 'every'] as const).filter((k) => a[k] !== undefined);
  if (schedule !== undefined) {
    if (typeof schedule !== 'function') throw argumentError(where, 'schedule', 'a function (step) => number', schedule);
    if (defaults.length > 0) {
      throw new Error(`${where}: expected either schedule or the default schedule's options, not both. ` +
          `Received: schedule and ${defaults.join(', ')}`);
    }
  } else {
    const tau0 = a.initialTemperature === undefined ? 1 : checkPositive(where, 'initialTemperature', a.initialTemperature);
    const rate = a.rate === undefined ? 1e-5 : checkNonNegative(where, 'rate', a.rate);
    const min = a.minTemperature === undefined ? 0.5 : checkPositive(where, 'minTemperature', a.minTemperature);
    const every = a.every === undefined ? (unit === 'batch' ? 500 : 1) : checkPositiveInteger(where, 'every', a.every);
    schedule = exponentialTemperatureSchedule(tau0, rate, min, every);
  }
  return {schedule, unit, setter: 'setTemperature', logName: 'temperature', layers: a.layers};
}

/** A callback that anneals τ of the model's `GumbelSoftmax` layers; see `TemperatureAnnealing`. */
export function temperatureAnnealing(args?: TemperatureAnnealingArgs): TemperatureAnnealing {
  return new TemperatureAnnealing(args);
}
