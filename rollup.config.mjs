// Builds ESM, CommonJS and a minified UMD bundle, plus one bundled .d.ts.
// tfjs-core and tfjs-layers stay external everywhere: they are peer
// dependencies, so our classes register in the user's own tfjs registry.
import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';
import {dts} from 'rollup-plugin-dts';

const external = (id) => id.startsWith('@tensorflow/');
const globals = {
  '@tensorflow/tfjs-core': 'tf',
  '@tensorflow/tfjs-layers': 'tf',
};
const ts = () => typescript({tsconfig: './tsconfig.build.json'});

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
