/**
 * Our classes register under this package name (`tfv>ClassName` in a saved
 * model's JSON), so they cannot collide with another library's custom layer
 * of the same name, and loading needs only `import 'tfjs-variational'`.
 */
export const SERIALIZATION_PACKAGE = 'tfv';
