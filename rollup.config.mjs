// Builds ESM, CommonJS and a minified UMD bundle, plus one bundled .d.ts.
// tfjs-core and tfjs-layers stay external everywhere: they are peer
// dependencies, so our classes register in the user's own tfjs registry.
import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';
import {dts} from 'rollup-plugin-dts';

// Node's built-ins appear only in type imports (src/io); listing them keeps rollup from warning.
const external = (id) => id.startsWith('@tensorflow/') || ['fs', 'path', 'crypto', 'os'].includes(id);
const globals = {
  '@tensorflow/tfjs-core': 'tf',
  '@tensorflow/tfjs-layers': 'tf',
};
const ts = () => typescript({tsconfig: './tsconfig.build.json'});

// Runs before the UMD wrapper. Loaded as a plain script (neither CommonJS nor
// AMD, the wrapper's own tests), the bundle reads the global `tf`; without it
// our classes would extend `undefined` ("Class extends value undefined is not
// a constructor or null") and leave an empty `tfv`. Fail first, saying what to do.
const umdGuard = `/* tfjs-variational: needs TensorFlow.js loaded first (global tf) */
(function (g) {
  if ((typeof exports === 'object' && typeof module !== 'undefined') || (typeof define === 'function' && define.amd)) return;
  g = typeof globalThis !== 'undefined' ? globalThis : g || self;
  var tf = g.tf, why = !tf ? 'the global tf is missing' : !tf.layers || !tf.serialization ?
    'the global tf has no tf.layers or tf.serialization: load @tensorflow/tfjs, or tfjs-core and tfjs-layers' : '';
  if (why) throw new Error('tfjs-variational: load TensorFlow.js first (' + why + '): ' +
    '<script src=".../tf.min.js"></script> before this bundle');
})(this);`;

export default [
  {
    input: 'src/index.ts',
    external,
    plugins: [ts()],
    output: [
      {file: 'dist/tfjs-variational.mjs', format: 'es', sourcemap: true},
      {file: 'dist/tfjs-variational.cjs', format: 'cjs', sourcemap: true, exports: 'named'},
    ],
  },
  {
    input: 'src/index.ts',
    external,
    plugins: [ts()],
    output: {
      file: 'dist/tfjs-variational.min.js',
      format: 'umd',
      name: 'tfv',
      globals,
      banner: umdGuard,
      sourcemap: true,
      exports: 'named',
      plugins: [terser()],
    },
  },
  {
    input: 'src/index.ts',
    external,
    plugins: [dts({tsconfig: './tsconfig.build.json'})],
    output: {file: 'dist/index.d.ts', format: 'es'},
  },
];
