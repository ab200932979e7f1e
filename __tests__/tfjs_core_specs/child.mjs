/**
 * One pass of tfjs-core's specs on the wasm backend (run by run.mjs):
 *
 *   node --import ./register.mjs child.mjs <on|off> <results.json>
 *
 * Set up as tfjs-backend-wasm's `src/setup_test.ts` (tfjs-v4.22.0) does:
 * tfjs-core with its gradients and chained ops registered, the wasm backend,
 * one test environment `test-wasm` and its spec filters (filters.mjs), then
 * tfjs-core's `dist/tests.js`. `on`: this library's fast wasm kernels and
 * fused Adam (src/perf, the work tree's sources) are enabled before the specs
 * run; `off`: the module is loaded but disabled.
 *
 * Writes `{mode, seconds, specs: [{name, status, message, messages, extra}]}`
 * (specs that ran; `message`: the first failure's, `messages`: every failure's;
 * `extra`: a convolution spec the filters leave out, filters.mjs) to results.json.
 */
import {writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

import {alwaysIncluded, FILTERS, isExtraConvSpec, TEST_ENV} from './filters.mjs';

const [mode, outFile] = process.argv.slice(2);
if ((mode !== 'on' && mode !== 'off') || outFile == null) {
  console.error(`usage: child.mjs <on|off> <results.json> (got ${JSON.stringify(process.argv.slice(2))})`);
  process.exit(2);
}
const started = Date.now();
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// tfjs-core's jasmine_util.js (an ES module written for bundlers) calls require('jasmine-core/...').
globalThis.require = require;

const jasmineRequire = require('jasmine-core/lib/jasmine-core/jasmine.js');
const jasmine = jasmineRequire.core(jasmineRequire);
const env = jasmine.getEnv();
Object.assign(globalThis, jasmineRequire.interface(jasmine, env));
jasmine.DEFAULT_TIMEOUT_INTERVAL = 20000;
env.configure({random: false});

const coreDist = join(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist');
const importCore = (file) => import(pathToFileURL(join(coreDist, file)).href);
await importCore('index.js');
await importCore('public/chained_ops/register_all_chained_ops.js');
await importCore('register_all_gradients.js');
require('@tensorflow/tfjs-backend-wasm');
const jasmineUtil = await importCore('jasmine_util.js');
jasmineUtil.setTestEnvs([TEST_ENV]);
// Also the convolution specs the filters leave out (marked `extra` in the results; see filters.mjs).
jasmineUtil.setupTestFilters(FILTERS, (name) => alwaysIncluded(name) || isExtraConvSpec(name));

const perf = await import(pathToFileURL(join(here, '..', '..', 'src', 'perf', 'index.ts')).href);
if (mode === 'on') {
  perf.enableFastWasmKernels();
} else {
  perf.disableFastWasmKernels();
}

await importCore('tests.js');

const specs = [];
// jasmine's queue does not keep Node's event loop alive between its steps.
const keepAlive = setInterval(() => {}, 1000);
await new Promise((resolve) => {
  env.addReporter({
    specDone(result) {
      if (result.status === 'excluded' || result.status === 'pending') return;
      const failure = result.failedExpectations?.[0];
      specs.push({name: result.fullName, status: result.status, message: failure?.message ?? '',
                  messages: (result.failedExpectations ?? []).map((f) => f.message),
                  extra: isExtraConvSpec(result.fullName)});
    },
    jasmineDone: resolve,
  });
  env.execute();
});
clearInterval(keepAlive);
if (mode === 'on' && !perf.isFastWasmKernelsActive()) {
  specs.push({name: 'tfjs-variational: the fast wasm kernels stayed registered during the run', status: 'failed',
              message: 'isFastWasmKernelsActive() is false after the run'});
}
writeFileSync(outFile, JSON.stringify({mode, seconds: (Date.now() - started) / 1000, specs}));
process.exit(0);
