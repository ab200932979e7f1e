// tfjs-core's dist/ imports `* as seedrandom from 'seedrandom'` (a CommonJS
// package) and calls `seedrandom.alea`: named exports Node cannot detect.
import {createRequire} from 'node:module';

const seedrandom = createRequire(import.meta.url)('seedrandom');
export default seedrandom;
export const alea = seedrandom.alea;
