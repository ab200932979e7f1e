/** Deterministic pseudo-random values for tests that compare backends and kernels (kept in helpers/random.ts). */
export {values} from './random';
