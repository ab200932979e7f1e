/**
 * The guides (docs/guides/*.md) run as tests, and the API reference builds.
 *
 * Guides. Every ```js / ```ts block of a guide runs, in the guide's order, in
 * one scope: the blocks of a guide are one program, so a later block uses the
 * model and data an earlier one made. `tf` (tfjs-core + tfjs-layers) and
 * `tfv` (the package, from src/) are in scope; a guide's own
 * `import … from '@tensorflow/tfjs'` / `'tfjs-variational'` lines are dropped
 * (any other import is refused). Nothing else is injected: each guide builds
 * its own small data set and trains for the epochs it shows, so the code the
 * reader sees is the code that runs. A block preceded by
 * `<!-- no-run -->` is neither run nor type-checked (for fragments).
 *
 * Each guide runs on the cpu backend; the VAE and Keras / TFP guides run on
 * wasm too (they are cheap there). A failure names the guide, the block and
 * its first line in the markdown.
 *
 * Types. Each guide is also one strict TypeScript file of a scratch project in
 * which `tfjs-variational` resolves to src/index.ts and `@tensorflow/tfjs` to
 * our node_modules, with the rule of `typescript_snippets.test.ts`: a ```ts
 * block must compile with no error, a ```js block may have none on a line
 * that calls `tfv.`.
 *
 * Reference. `typedoc` with `--treatWarningsAsErrors` (typedoc.json: entry
 * src/index.ts) into a temporary directory: a symbol the public API refers to
 * without exporting it, a broken `{@link}` or an unknown tag fails it.
 */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ts from 'typescript';

import * as tfv from '../src';
import {useBackend} from './helpers/backends';
import {markdownCodeBlocks, MarkdownBlock} from './helpers/markdown';

const ROOT = path.resolve(__dirname, '..');
const GUIDES = path.join(ROOT, 'docs', 'guides');
const SKIP_MARKER = '<!-- no-run -->';
const OUR_IMPORT = /^\s*import\s+(?:\*\s+as\s+\w+|\{[^}]*\}|\w+)\s+from\s+['"](@tensorflow\/tfjs|tfjs-variational)['"];?\s*$/;

type Block = MarkdownBlock;

/** The ```js / ```ts blocks of a markdown text, except those marked `<!-- no-run -->`. */
function extractBlocks(file: string, text: string): Block[] {
  return markdownCodeBlocks(file, text, SKIP_MARKER);
}

/** Where a line of the joined program comes from (null: a line the harness added). */
type Origin = {block: Block; line: number}|null;

/**
 * The blocks of one guide as one program: imports of tf and tfv dropped,
 * `__block = i;` before each block (so a runtime error can be located), and
 * where each line came from.
 */
function joinBlocks(blocks: Block[], marker: boolean): {code: string; origins: Origin[]} {
  const out: string[] = [];
  const origins: Origin[] = [];
  for (const block of blocks) {
    if (marker) {
      out.push(`__block = ${block.index};`);
      origins.push(null);
    }
    block.lines.forEach((line, k) => {
      if (/^\s*import\s/.test(line) && !OUR_IMPORT.test(line)) {
        throw new Error(`${block.file}:${block.firstLine + k}: only @tensorflow/tfjs and tfjs-variational may be imported ` +
          `in a guide. Received: ${line.trim()}`);
      }
      out.push(OUR_IMPORT.test(line) ? '' : line);
      origins.push({block, line: k + 1});
    });
  }
  return {code: out.join('\n'), origins};
}

function guideFiles(): string[] {
  return fs.readdirSync(GUIDES).filter((f) => f.endsWith('.md')).sort();
}

function guideBlocks(name: string): Block[] {
  return extractBlocks(`docs/guides/${name}`, fs.readFileSync(path.join(GUIDES, name), 'utf8'));
}

/** tfjs as `import * as tf from '@tensorflow/tfjs'` gives it, from the peer packages. */
const tf = {...tfc, ...tfl, layers: tfl.layers, train: tfc.train, io: tfc.io, initializers: tfl.initializers};

/** Runs a guide's blocks in order in one scope; rejects with the failing block and its line in the markdown. */
async function runGuide(blocks: Block[]): Promise<void> {
  const {code} = joinBlocks(blocks, true);
  const js = ts.transpileModule(code, {reportDiagnostics: true, compilerOptions: {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: false}});
  const syntax = (js.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (syntax.length > 0) throw new Error(`${blocks[0].file} does not parse: ${syntax.join('; ')}`);
  const body = js.outputText.replace(/^export \{\};\s*$/m, '');
  const state = {block: 0};
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
  const run = new AsyncFunction('tf', 'tfv', '__state',
      `let __block = 0; try {\n${body}\n} finally { __state.block = __block; }`);
  try {
    await run(tf, tfv, state);
  } catch (e) {
    const block = blocks.find((b) => b.index === state.block);
    const where = block === undefined ? blocks[0].file : `${block.file}:${block.firstLine} (code block ${block.index})`;
    const err = e as Error;
    throw new Error(`${where} threw: ${err.stack ?? err.message}`);
  }
}

interface TypeError {
  origin: Origin;
  code: number;
  message: string;
  text: string;
}

/** Type-checks each guide as one strict TypeScript file; returns the errors on guide lines and those elsewhere. */
function typeCheck(guides: Map<string, Block[]>): {errors: TypeError[]; other: string[]; dir: string} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-guides-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', '@tensorflow'), path.join(dir, 'node_modules', '@tensorflow'), 'junction');
  const HEAD = [`import * as tf from '@tensorflow/tfjs';`, `import * as tfv from 'tfjs-variational';`];
  const byFile = new Map<string, {origins: Origin[]; lines: string[]}>();
  for (const [name, blocks] of guides) {
    if (blocks.length === 0) continue;
    const {code, origins} = joinBlocks(blocks, false);
    const file = path.join(dir, name.replace(/\.md$/, '').replace(/[^\w]+/g, '_') + '.ts');
    const lines = [...HEAD, code, 'export {};', ''];
    fs.writeFileSync(file, lines.join('\n'));
    byFile.set(fs.realpathSync(file), {origins: [null, null, ...origins], lines: [...HEAD, ...code.split('\n')]});
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], strict: true, noEmit: true, esModuleInterop: true, skipLibCheck: true,
    types: [], baseUrl: dir, paths: {'tfjs-variational': [path.join(ROOT, 'src', 'index.ts')]},
  };
  const program = ts.createProgram([...byFile.keys()], options);
  const errors: TypeError[] = [];
  const other: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const file = d.file === undefined ? undefined : fs.realpathSync(d.file.fileName);
    const where = file === undefined ? undefined : byFile.get(file);
    if (where === undefined || d.start === undefined || d.file === undefined) {
      // The library's own sources are type-checked by `npm run typecheck` (stricter options); not here.
      if (file !== undefined && file.startsWith(path.join(ROOT, 'src') + path.sep)) continue;
      other.push(`${file ?? ''}: TS${d.code} ${message}`);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    errors.push({origin: where.origins[line] ?? null, code: d.code, message, text: where.lines[line] ?? ''});
  }
  return {errors, other, dir};
}

/** Errors that break the rule: any in a ```ts block or a harness line, those on a `tfv.` line of a ```js block. */
function violations(errors: TypeError[]): TypeError[] {
  return errors.filter((e) => e.origin === null || e.origin.block.lang === 'ts' || e.text.includes('tfv.'));
}

function describeTypeError(e: TypeError): string {
  const o = e.origin;
  const where = o === null ? '(harness line)' : `${o.block.file}:${o.block.firstLine + o.line - 1} (code block ${o.block.index}, \`\`\`${o.block.lang})`;
  return `${where}: TS${e.code} ${e.message}\n    | ${e.text.trim()}`;
}

// A guide the harness must reject: proof that the run and the type check can fail, at the right block.
const WRONG = `# sample

\`\`\`js
import * as tfv from 'tfjs-variational';
const layer = tfv.layers.reparameterize();
\`\`\`

${SKIP_MARKER}
\`\`\`js
throw new Error('a skipped block ran');
\`\`\`

\`\`\`ts
const n: number = tfv.version;
tfv.layers.reparameterize({samples: -1});
\`\`\`
`;

const expectedGuides = [
  'bayes-by-backprop.md', 'flows-and-discrete-latents.md', 'from-keras-and-tfp.md', 'iwae-and-log-likelihood.md',
  'vae-in-20-lines.md',
];

describe('docs/guides', () => {
  // One type-check program for the guides and the wrong sample (building it is most of the cost).
  let checked: ReturnType<typeof typeCheck>|undefined;
  const sampleBlocks = extractBlocks('sample.md', WRONG);
  const checkAll = () => {
    if (checked === undefined) {
      checked = typeCheck(new Map([...guideFiles().map((name) => [name, guideBlocks(name)] as [string, Block[]]),
        ['sample.md', sampleBlocks]]));
    }
    return checked;
  };
  afterAll(() => {
    if (checked !== undefined && !keep) fs.rmSync(checked.dir, {recursive: true, force: true});
  });
  let keep = false;

  it('holds the five guides, each with code', () => {
    const files = guideFiles();
    expect(files).toEqual(expect.arrayContaining(expectedGuides));
    for (const name of expectedGuides) expect(guideBlocks(name).length).toBeGreaterThan(0);
  });

  it('the harness fails on a throwing block and on a type error, naming them, and skips marked blocks', async () => {
    await useBackend('cpu');
    expect(sampleBlocks.map((b) => b.index)).toEqual([1, 2]);
    // samples must be a positive integer: the second block (markdown line 14) throws at run time.
    await expect(runGuide(sampleBlocks)).rejects.toThrow(/^sample\.md:14 \(code block 2\) threw: .*samples/s);
    const {errors} = checkAll();
    const found = violations(errors.filter((e) => e.origin?.block.file === 'sample.md')).map(describeTypeError);
    // A string is not a number (markdown line 14), and nothing else.
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^sample\.md:14 \(code block 2, ```ts\): TS2322 /);
    // An import of any other module is refused before running.
    expect(() => joinBlocks(extractBlocks('bad.md', '```js\nimport fs from \'fs\';\n```\n'), true))
        .toThrow(/bad\.md:2: only @tensorflow\/tfjs and tfjs-variational may be imported/);
  });

  it('type-checks every guide (```ts: no error; ```js: none on a line calling tfv)', () => {
    const {errors, other, dir} = checkAll();
    const bad = violations(errors.filter((e) => e.origin?.block.file !== 'sample.md'));
    if (bad.length > 0 || other.length > 0) {
      keep = true;
      throw new Error(`type errors in the guides (scratch project kept in ${dir}):\n\n` +
        [...other, ...bad.map(describeTypeError)].join('\n\n'));
    }
  });

  const runs: Array<[string, string]> = [
    ...guideFiles().map((name) => [name, 'cpu'] as [string, string]),
    ['vae-in-20-lines.md', 'wasm'],
    ['from-keras-and-tfp.md', 'wasm'],
  ];
  it.each(runs)('%s runs as written on %s', async (name, backend) => {
    await useBackend(backend as 'cpu'|'wasm');
    // A guide's relative paths (`file://./model`) land in a scratch directory.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-guide-run-'));
    const cwd = process.cwd();
    // The guides' console.log output is hidden; TFV_GUIDES_VERBOSE=1 shows it (to read the figures a guide prints).
    const log = jest.spyOn(console, 'log');
    if (process.env.TFV_GUIDES_VERBOSE !== '1') log.mockImplementation(() => undefined);
    try {
      process.chdir(dir);
      await runGuide(guideBlocks(name));
    } finally {
      process.chdir(cwd);
      log.mockRestore();
      fs.rmSync(dir, {recursive: true, force: true});
      tfc.disposeVariables();
    }
  });
});

describe('docs/reference (TypeDoc)', () => {
  it('builds from src/index.ts with no warning', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-typedoc-'));
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'),
        '--treatWarningsAsErrors', '--logLevel', 'Warn', '--out', out],
      {cwd: ROOT, stdio: 'pipe', timeout: 110000});
    } catch (e) {
      const err = e as {stdout?: Buffer; stderr?: Buffer; message: string};
      throw new Error(`typedoc reported warnings or errors:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}` +
        `\n${err.message}`);
    } finally {
      fs.rmSync(out, {recursive: true, force: true});
    }
    expect(fs.existsSync(path.join(ROOT, 'typedoc.json'))).toBe(true);
  });
});
