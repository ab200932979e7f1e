/**
 * Module hooks for running tfjs-core's compiled specs (`@tensorflow/tfjs-core/dist/**_test.js`)
 * and this library's TypeScript sources directly in Node:
 *
 * - tfjs-core's `dist/` files are ES modules whose relative imports have no
 *   extension (`import '../index'`), written for a bundler: a relative
 *   specifier without an extension resolves to `<it>.js`, `<it>.ts`, or
 *   `<it>/index.js`.
 * - `seedrandom` (CommonJS) imported by those files resolves to a shim whose
 *   named export `alea` Node's CommonJS interop cannot detect.
 * - `.ts` files are transpiled to JavaScript (TypeScript's `transpileModule`,
 *   no type checking: `npm run typecheck` does that), so the suite exercises
 *   `src/perf/` as it is in the work tree, without a build.
 */
import {existsSync, statSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';

const require = createRequire(import.meta.url);
let ts;

function isFile(path) {
  return existsSync(path) && statSync(path).isFile();
}

const SEEDRANDOM_SHIM = new URL('./seedrandom_shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'seedrandom' && context.parentURL?.includes('/@tensorflow/tfjs-core/dist/')) {
    return {url: SEEDRANDOM_SHIM, shortCircuit: true};
  }
  const relative = specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
  if (relative && context.parentURL?.startsWith('file:') && !/\.(m?js|cjs|json|ts)$/.test(specifier)) {
    const base = fileURLToPath(new URL(specifier, context.parentURL));
    for (const candidate of [`${base}.js`, `${base}.ts`, `${base}/index.js`, `${base}/index.ts`]) {
      if (isFile(candidate)) return {url: pathToFileURL(candidate).href, shortCircuit: true};
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    ts ??= require('typescript');
    const source = await readFile(fileURLToPath(url), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: fileURLToPath(url),
      compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2020, isolatedModules: true},
    });
    return {format: 'module', source: out.outputText, shortCircuit: true};
  }
  // tfjs-core's dist/ is ESM without "type": "module" in its package.json.
  if (url.startsWith('file:') && url.includes('/@tensorflow/tfjs-core/dist/') && url.endsWith('.js') &&
      !url.endsWith('.node.js') && !/tf-core(\.es2017|\.fesm)?(\.min)?\.js$/.test(url)) {
    const source = await readFile(fileURLToPath(url), 'utf8');
    return {format: 'module', source, shortCircuit: true};
  }
  return nextLoad(url, context);
}
