/**
 * KL annealing: changes β of every divergence layer during `model.fit`.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {isKLWeighted, KLWeighted} from '../layers/kl_weight';
import {modelLayers} from '../layers/model_layers';
import {checkOneOf} from '../util/validate';

export interface KLAnnealingArgs {
  /**
   * β as a function of the step: the epoch index (from 0) when `unit` is
   * `'epoch'`, the global batch index (from 0, counted across epochs) when
   * `unit` is `'batch'`. Must return a finite number.
   */
  schedule: (step: number) => number;
  /** When β changes: at the start of each `'epoch'` (default) or each `'batch'`. */
  unit?: 'epoch'|'batch';
  /**
   * The layers to anneal. Default: every layer of the model with a divergence
   * multiplier (KLDivergenceLayer, BayesianDense, …), nested models included.
   */
  layers?: KLWeighted[];
}

/** Every layer of `model` with a divergence multiplier (`setKLWeight`), searching nested models. */
export function findKLLayers(model: {layers: tfl.layers.Layer[]}): KLWeighted[] {
  return modelLayers(model.layers).filter((layer): layer is tfl.layers.Layer & KLWeighted => isKLWeighted(layer));
}

/**
 * Sets `β = schedule(step)` on the KL layers before each epoch or batch, e.g.
 * a linear warm-up over the first 10 epochs (Bowman et al. 2016,
 * arXiv:1511.06349):
 *
 * ```js
 * await vae.fit(x, x, {epochs: 30, callbacks: [
 *   tfv.callbacks.klAnnealing({schedule: (epoch) => Math.min(1, epoch / 10)})]});
 * ```
 *
 * β is the layers' non-trainable weight `kl_weight`; the current value is
 * reported in the epoch logs as `kl_weight`.
 */
export class KLAnnealing extends tfl.Callback {
  private readonly schedule: (step: number) => number;
  private readonly unit: 'epoch'|'batch';
  private readonly explicitLayers: KLWeighted[]|undefined;
  private globalBatch = 0;
  private current = NaN;

  constructor(args: KLAnnealingArgs) {
    super();
    if (args == null || typeof args.schedule !== 'function') {
      throw new Error(`klAnnealing: expected schedule to be a function (step) => number. Received: schedule=${args?.schedule}`);
    }
    this.schedule = args.schedule;
    this.unit = args.unit === undefined ? 'epoch' : checkOneOf('klAnnealing', 'unit', args.unit, ['epoch', 'batch'] as const);
    this.explicitLayers = args.layers;
  }

  private targets(): KLWeighted[] {
    if (this.explicitLayers !== undefined) return this.explicitLayers;
    const layers = findKLLayers(this.model as unknown as {layers: tfl.layers.Layer[]});
    if (layers.length === 0) {
      throw new Error(`klAnnealing: the model '${this.model.name}' has no layer with a divergence multiplier (setKLWeight) to anneal`);
    }
    return layers;
  }

  private apply(step: number): void {
    const beta = this.schedule(step);
    if (typeof beta !== 'number' || !Number.isFinite(beta)) {
      throw new Error(`klAnnealing: expected schedule(${step}) to return a finite number. Received: ${beta}`);
    }
    if (beta !== this.current) {
      for (const layer of this.targets()) layer.setKLWeight(beta);
      this.current = beta;
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
    if (logs !== undefined) logs['kl_weight'] = this.current;
  }
}

/** A callback that anneals β of the model's KL layers; see `KLAnnealing`. */
export function klAnnealing(args: KLAnnealingArgs): KLAnnealing {
  return new KLAnnealing(args);
}
