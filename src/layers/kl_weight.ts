/**
 * What annealing needs of a layer with a divergence multiplier β (kept as
 * its non-trainable weight `kl_weight`, a `ScalarWeight`).
 */

/** What `tfv.callbacks.klAnnealing` needs of a layer. */
export interface KLWeighted {
  getKLWeight(): number;
  readKLWeight(): Promise<number>;
  setKLWeight(weight: number): void;
}

/** True for layers whose divergence multiplier can be annealed. */
export function isKLWeighted(layer: unknown): layer is KLWeighted {
  const l = layer as Partial<KLWeighted>|null;
  return l != null && typeof l.setKLWeight === 'function' && typeof l.readKLWeight === 'function';
}
