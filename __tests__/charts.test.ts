/**
 * examples/shared/charts.mjs: each chart kind renders to a valid, non-blank PNG
 * of the size its spec asks for, and the reliability diagram's bins and
 * calibration error are the ones computed by hand. The module is ESM, so a
 * child Node process renders and reports; this test decodes the PNGs.
 */
import {spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {PNG} from 'pngjs';

const ROOT = path.resolve(__dirname, '..');
const CHARTS = path.join(ROOT, 'examples', 'shared', 'charts.mjs');

/** Renders in a child process; returns what the script printed as JSON. */
function render(script: string, dir: string): any {
  const file = path.join(dir, 'render.mjs');
  fs.writeFileSync(file, `import * as charts from ${JSON.stringify(CHARTS)};\n` +
      `const out = ${JSON.stringify(dir)};\n${script}`);
  const r = spawnSync(process.execPath, [file], {cwd: ROOT, encoding: 'utf8', timeout: 60000});
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`exit code ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

/** Decodes a PNG and counts pixels that are not (near) white, and distinct colours. */
function inspect(file: string): {width: number; height: number; ink: number; colours: number} {
  const png = PNG.sync.read(fs.readFileSync(file));
  let ink = 0;
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (r < 235 || g < 235 || b < 235) ink++;
    colours.add((r >> 4) << 8 | (g >> 4) << 4 | (b >> 4));
  }
  return {width: png.width, height: png.height, ink, colours: colours.size};
}

describe('examples/shared/charts.mjs', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-charts-'));
  });
  afterAll(() => {
    fs.rmSync(dir, {recursive: true, force: true});
  });

  it('renders a scatter with a legend, a line chart, a histogram and a reliability diagram to PNG', () => {
    const result = render(`
      const points = [];
      for (let i = 0; i < 200; i++) points.push({x: (i % 10) + (i % 7) / 10, y: (i % 10) * 2 - (i % 3) / 5, group: i % 10});
      const scatter = await charts.writeChartPng(charts.scatterChart({points, title: 'scatter', xTitle: 'z1', yTitle: 'z2',
        groupTitle: 'digit', width: 300, height: 200}), out + '/scatter.png');
      const line = await charts.writeChartPng(charts.lineChart({series: [
        {name: 'train', points: [{x: 1, y: 3}, {x: 2, y: 2}, {x: 3, y: 1.5}]},
        {name: 'validation', points: [{x: 1, y: 3.5}, {x: 2, y: NaN}, {x: 3, y: 2}]}],
        xTitle: 'epoch', yTitle: 'nats', width: 250, height: 150}), out + '/line.png', {scale: 2});
      const values = Array.from({length: 400}, (_, i) => (i * 37 % 101) / 100);
      const hist = await charts.writeChartPng(charts.histogramChart({values, groups: values.map((_, i) => i % 2 ? 'a' : 'b'),
        bins: 10, normalize: true, width: 200, height: 120}), out + '/hist.png');
      const spec = charts.reliabilityChart({confidence: [0.05, 0.15, 0.95, 0.92, 0.99, 1], correct: [0, 1, 1, 0, 1, 1], bins: 10});
      const rel = await charts.writeChartPng(spec, out + '/reliability.png', {svg: true});
      let threw = '';
      try { charts.scatterChart({points: []}); } catch (e) { threw = e.message; }
      const pts = [{x: 0, y: 0, group: 10}, {x: 1, y: 1, group: 9}, {x: 2, y: 2, group: 'Bag'}, {x: 3, y: 3, group: 'Coat'}];
      const orders = [charts.scatterChart({points: pts}).encoding.color.sort,
        charts.scatterChart({points: pts, groupOrder: ['Coat', '10']}).encoding.color.sort];
      console.log(JSON.stringify({scatter, line, hist, rel, usermeta: spec.usermeta, threw, orders}));
    `, dir);

    // The reported size is the PNG's; the plot area is the spec's width and height plus axes, titles and legend.
    // (The line chart is rendered at scale 2: twice the pixels in each direction.)
    for (const [key, w, h, scale] of [['scatter', 300, 200, 1], ['line', 500, 300, 2], ['hist', 200, 120, 1], ['rel', 360, 360, 1]] as const) {
      const png = inspect(path.join(dir, path.basename(result[key].file)));
      expect([png.width, png.height]).toEqual([result[key].width, result[key].height]);
      expect(png.width).toBeGreaterThan(w);
      expect(png.height).toBeGreaterThan(h);
      expect(png.width).toBeLessThan(w + 260 * scale);
      expect(png.height).toBeLessThan(h + 160 * scale);
      // Axes, marks and text cover a few percent of the picture, not nothing and not everything.
      expect(png.ink / (png.width * png.height)).toBeGreaterThan(0.01);
      expect(png.ink / (png.width * png.height)).toBeLessThan(0.6);
    }
    // Ten groups in ten colours (category10) plus greys and anti-aliasing.
    expect(inspect(path.join(dir, 'scatter.png')).colours).toBeGreaterThan(12);
    expect(fs.readFileSync(path.join(dir, 'reliability.svg'), 'utf8')).toMatch(/^<svg/);

    // Bins of width 0.1: [0, 0.1) one wrong at 0.05; [0.1, 0.2) one right at 0.15; [0.9, 1] four at mean 0.965, three right.
    const bins = result.usermeta.bins;
    expect(bins.map((b: any) => b.count)).toEqual([1, 1, 4]);
    expect(bins[2].confidence).toBeCloseTo((0.95 + 0.92 + 0.99 + 1) / 4, 12);
    expect(bins[2].accuracy).toBeCloseTo(0.75, 12);
    const ece = (1 / 6) * 0.05 + (1 / 6) * 0.85 + (4 / 6) * Math.abs(0.75 - 0.965);
    expect(result.usermeta.ece).toBeCloseTo(ece, 12);
    expect(result.threw).toMatch(/points must be a non-empty array/);
    // Legend order: numbers as numbers (9 before 10), then text; or as given, the rest after.
    expect(result.orders).toEqual([['9', '10', 'Bag', 'Coat'], ['Coat', '10', '9', 'Bag']]);
  }, 90000);
});
