/**
 * Scheduled scalars: one callback mechanism that sets a number on layers of
 * a model before each epoch or batch of `model.fit` — β of the divergence
 * layers (`klAnnealing`), the temperature of relaxed samplers
 * (`temperatureAnnealing`), or any scalar a layer exposes through a setter.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {modelLayers} from '../layers/model_layers';
import {checkKnownOptions, checkOneOf} from '../util/validate';

export interface ScheduledScalarArgs {
  /**
   * The value as a function of the step: the epoch index (from 0) when `unit`
   * is `'epoch'`, the global batch index (from 0, counted across epochs) when
   * `unit` is `'batch'`. Must return a finite number; the setter checks its range.
   */
  schedule: (step: number) => number;
  /** When the value changes: at the start of each `'epoch'` (default) or each `'batch'`. */
  unit?: 'epoch'|'batch';
  /**
   * The method of each target layer that takes the value, e.g.
   * `'setKLWeight'` (divergence layers) or `'setTemperature'` (`GumbelSoftmax`).
   */
  setter: string;
  /** The key of the value in the epoch logs (`History`, other callbacks), e.g. `'kl_weight'`. */
  logName: string;
  /**
   * The layers to set. Default: every layer of the model with the `setter`
   * method, nested models included.
   */
  layers?: object[];
}

const SCHEDULED_SCALAR_ARG_NAMES = ['schedule', 'unit', 'setter', 'logName', 'layers'];

/** Every layer of `model` (nested models searched) that has the method `setter`. */
function layersWithSetter(model: {layers: tfl.layers.Layer[]}, setter: string): object[] {
  return modelLayers(model.layers).filter((layer) => typeof (layer as unknown as Record<string, unknown>)[setter] === 'function');
}

/**
 * Calls `layer[setter](schedule(step))` on the target layers before each
 * epoch or batch, and reports the current value in the epoch logs under
 * `logName`. A value is set only when it differs from the last one set;
 * each `fit` starts its steps from 0 and sets the value afresh.
 *
 * ```js
 * // A custom layer with setDropRate(rate): from 0.5 down to 0.1 over 20 epochs.
 * tfv.callbacks.scheduledScalar({setter: 'setDropRate', logName: 'drop_rate',
 *   schedule: (epoch) => Math.max(0.1, 0.5 - 0.02 * epoch)});
 * ```
 */
export class ScheduledScalar extends tfl.Callback {
  readonly unit: 'epoch'|'batch';
  readonly setter: string;
  readonly logName: string;
  private readonly schedule: (step: number) => number;
  private readonly explicitLayers: object[]|undefined;
  private globalBatch = 0;
  private current = NaN;

  constructor(args: ScheduledScalarArgs) {
    super();
    const where = this.callbackName();
    if (args == null || typeof args.schedule !== 'function') {
      throw new Error(`${where}: expected schedule to be a function (step) => number. Received: schedule=${args?.schedule}`);
    }
    checkKnownOptions(where, args, SCHEDULED_SCALAR_ARG_NAMES);
    for (const name of ['setter', 'logName'] as const) {
      if (typeof args[name] !== 'string' || args[name].length === 0) {
        throw new Error(`${where}: expected ${name} to be a non-empty string. Received: ${name}=${String(args[name])}`);
      }
    }
    this.schedule = args.schedule;
    this.unit = args.unit === undefined ? 'epoch' : checkOneOf(where, 'unit', args.unit, ['epoch', 'batch'] as const);
    this.setter = args.setter;
    this.logName = args.logName;
    if (args.layers !== undefined) {
      const bad = Array.isArray(args.layers) ?
          args.layers.findIndex((l) => l == null || typeof (l as Record<string, unknown>)[this.setter] !== 'function') : -1;
      if (!Array.isArray(args.layers) || bad >= 0) {
        throw new Error(`${where}: expected layers to be an array of layers with a ${this.setter} method. Received: ` +
            (Array.isArray(args.layers) ? `layers[${bad}]=${String(args.layers[bad])}` : `layers=${String(args.layers)}`));
      }
    }
    this.explicitLayers = args.layers;
  }

  /** The factory's name, which labels errors (subclasses name theirs). */
  protected callbackName(): string {
    return 'scheduledScalar';
  }

  /** What a target is, for the error when the model has none (subclasses describe theirs). */
  protected targetDescription(): string {
    return `a ${this.setter} method`;
  }

  /** The layers of `model` to set when none were given. */
  protected findTargets(model: {layers: tfl.layers.Layer[]}): object[] {
    return layersWithSetter(model, this.setter);
  }

  /** The value last set (NaN before the first step of a `fit`). */
  get value(): number {
    return this.current;
  }

  private targets(): object[] {
    if (this.explicitLayers !== undefined) return this.explicitLayers;
    const layers = this.findTargets(this.model as unknown as {layers: tfl.layers.Layer[]});
    if (layers.length === 0) {
      throw new Error(`${this.callbackName()}: the model '${this.model.name}' has no layer with ${this.targetDescription()} to anneal`);
    }
    return layers;
  }

  private apply(step: number): void {
    const value = this.schedule(step);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`${this.callbackName()}: expected schedule(${step}) to return a finite number. Received: ${value}`);
    }
    if (value !== this.current) {
      for (const layer of this.targets()) (layer as Record<string, (v: number) => void>)[this.setter](value);
      this.current = value;
    }
  }

  override async onTrainBegin(): Promise<void> {
    this.globalBatch = 0;
    this.current = NaN;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    if (this.unit === 'epoch') this.apply(epoch);
  }

  override async onBatchBegin(): Promise<void> {
    if (this.unit === 'batch') this.apply(this.globalBatch++);
  }

  override async onEpochEnd(_epoch: number, logs?: tfl.Logs): Promise<void> {
    if (logs !== undefined) logs[this.logName] = this.current;
  }
}

/** A callback that sets `layer[setter](schedule(step))` per epoch or batch and logs it; see `ScheduledScalar`. */
export function scheduledScalar(args: ScheduledScalarArgs): ScheduledScalar {
  return new ScheduledScalar(args);
}
