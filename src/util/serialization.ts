/**
 * Our classes register under this package name: tfjs-core's registry knows
 * them as `tfv>ClassName` (tfjs-layers writes the plain `className` into a
 * saved model's JSON and resolves it through the same registry), and loading
 * needs only `import 'tfjs-variational'`.
 */
export const SERIALIZATION_PACKAGE = 'tfv';
