/** Converting deterministic models into Bayesian ones (`tfv.variationalize`). */
export {variationalize} from './variationalize';
export type {
  DroppedOptions, UnconvertedLayer, VariationalizeInitialization, VariationalizeOptions, VariationalizeResult,
} from './variationalize';
