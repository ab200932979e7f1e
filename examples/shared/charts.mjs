/**
 * Charts for the examples: Vega-Lite specs rendered to SVG by Vega (no
 * browser, no canvas) and rasterised to PNG by resvg.
 *
 *   import {scatterChart, lineChart, histogramChart, reliabilityChart, writeChartPng} from '../shared/charts.mjs';
 *   await writeChartPng(lineChart({series: [{name: 'train', points: [{x: 1, y: 3}, {x: 2, y: 2}]}]}), 'loss.png');
 *
 * Each `…Chart` function returns a plain Vega-Lite spec (a JSON object), so a
 * caller can adjust it before rendering. `writeChartPng(spec, file)` renders
 * one; `renderChart(spec)` returns the SVG text and the PNG bytes instead.
 * Text is drawn with the system's fonts (DejaVu Sans or Liberation Sans on
 * Debian; resvg falls back to any sans-serif font it finds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import {Resvg} from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

const FONT = 'DejaVu Sans, Liberation Sans, sans-serif';

/** Shared look: white background, readable axis text, no chart border. */
const CONFIG = {
  background: 'white',
  font: FONT,
  view: {stroke: null},
  axis: {labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e6e6e6'},
  legend: {labelFontSize: 11, titleFontSize: 12},
  title: {fontSize: 13, anchor: 'start', offset: 8},
};

function checkArray(name, value) {
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error(`${name} must be a non-empty array. Received: ${name}=${JSON.stringify(value)?.slice(0, 80)}`);
  }
}

function base(options, defaults) {
  const {title, width = defaults.width, height = defaults.height} = options;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(title === undefined ? {} : {title}),
    width,
    height,
    config: CONFIG,
  };
}

/**
 * A scatter plot, coloured by a group with a legend (e.g. latent means by digit).
 * @param {{points: {x: number, y: number, group?: string|number}[], title?: string, xTitle?: string,
 *   yTitle?: string, groupTitle?: string, groupOrder?: string[], width?: number, height?: number, size?: number,
 *   opacity?: number}} options
 *   `group` values are shown as categories (nominal), in sorted order (numbers as numbers) or in `groupOrder`.
 */
export function scatterChart(options) {
  const {points, xTitle = 'x', yTitle = 'y', groupTitle = 'group', groupOrder, size = 12, opacity = 0.7} = options;
  checkArray('points', points);
  const grouped = points.some((p) => p.group !== undefined);
  const values = points.map((p) => ({x: p.x, y: p.y, ...(grouped ? {group: String(p.group)} : {})}));
  const seen = grouped ? [...new Set(values.map((v) => v.group))] : [];
  const groups = groupOrder ? [...groupOrder.map(String).filter((g) => seen.includes(g)), ...seen.filter((g) => !groupOrder.map(String).includes(g))] :
    seen.sort(naturalOrder);
  return {
    ...base(options, {width: 420, height: 420}),
    data: {values},
    mark: {type: 'circle', size, opacity},
    encoding: {
      x: {field: 'x', type: 'quantitative', title: xTitle, scale: {zero: false, nice: true}},
      y: {field: 'y', type: 'quantitative', title: yTitle, scale: {zero: false, nice: true}},
      ...(grouped ? {color: {field: 'group', type: 'nominal', title: groupTitle, sort: groups,
        scale: {scheme: groups.length <= 10 ? 'category10' : 'tableau20'}}} : {}),
    },
  };
}

/** Numbers as numbers ('2' before '10'), anything else as text. */
function naturalOrder(a, b) {
  const [na, nb] = [Number(a), Number(b)];
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A line chart of one or more named series (e.g. train and validation loss per epoch), with points.
 * @param {{series: {name: string, points: {x: number, y: number}[]}[], title?: string, xTitle?: string,
 *   yTitle?: string, seriesTitle?: string, width?: number, height?: number, yZero?: boolean}} options
 *   Non-finite y values are left out (a gap rather than a failed render).
 */
export function lineChart(options) {
  const {series, xTitle = 'x', yTitle = 'y', seriesTitle = 'series', yZero = false} = options;
  checkArray('series', series);
  const values = [];
  for (const s of series) {
    checkArray(`series '${s.name}' points`, s.points);
    for (const p of s.points) if (Number.isFinite(p.y)) values.push({x: p.x, y: p.y, series: s.name});
  }
  return {
    ...base(options, {width: 480, height: 300}),
    data: {values},
    mark: {type: 'line', point: true},
    encoding: {
      x: {field: 'x', type: 'quantitative', title: xTitle, axis: {tickMinStep: 1}},
      y: {field: 'y', type: 'quantitative', title: yTitle, scale: {zero: yZero}},
      color: {field: 'series', type: 'nominal', title: seriesTitle, sort: series.map((s) => s.name)},
    },
  };
}

/**
 * A histogram of values, optionally one layer per group (overlaid, semi-transparent).
 * @param {{values: number[], groups?: (string|number)[], bins?: number, extent?: [number, number], title?: string,
 *   xTitle?: string, yTitle?: string, groupTitle?: string, width?: number, height?: number, normalize?: boolean}} options
 *   `groups[i]` is the group of `values[i]`; `normalize` shows each group's fraction instead of counts.
 */
export function histogramChart(options) {
  const {values, groups, bins = 30, extent, xTitle = 'value', groupTitle = 'group', normalize = false} = options;
  checkArray('values', values);
  if (groups !== undefined && groups.length !== values.length) {
    throw new Error(`groups must have one entry per value (${values.length}). Received: ${groups.length} groups`);
  }
  const data = values.map((v, i) => ({v, ...(groups ? {group: String(groups[i])} : {})}));
  const bin = {maxbins: bins, ...(extent ? {extent} : {})};
  const yTitle = options.yTitle ?? (normalize ? 'fraction' : 'count');
  const transform = [{bin, field: 'v', as: ['b0', 'b1']}];
  const by = groups ? ['b0', 'b1', 'group'] : ['b0', 'b1'];
  transform.push({aggregate: [{op: 'count', as: 'count'}], groupby: by});
  if (normalize) {
    transform.push({joinaggregate: [{op: 'sum', field: 'count', as: 'total'}], groupby: groups ? ['group'] : []});
    transform.push({calculate: 'datum.count / datum.total', as: 'fraction'});
  }
  return {
    ...base(options, {width: 480, height: 300}),
    data: {values: data},
    transform,
    mark: {type: 'bar', opacity: groups ? 0.55 : 0.9, binSpacing: 0},
    encoding: {
      x: {field: 'b0', bin: {binned: true}, type: 'quantitative', title: xTitle},
      x2: {field: 'b1'},
      y: {field: normalize ? 'fraction' : 'count', type: 'quantitative', title: yTitle, stack: null},
      ...(groups ? {color: {field: 'group', type: 'nominal', title: groupTitle}} : {}),
    },
  };
}

/**
 * A reliability diagram: accuracy against confidence per confidence bin, the diagonal of perfect
 * calibration, and each bin's share of the examples as bars.
 * @param {{confidence: ArrayLike<number>, correct: ArrayLike<boolean|number>, bins?: number, title?: string,
 *   width?: number, height?: number}} options `confidence[i]` in [0, 1] is the predicted probability of the
 *   predicted class, `correct[i]` whether that prediction was right.
 * @returns {object} the spec; its `usermeta.bins` holds `{lower, upper, count, confidence, accuracy}` per
 *   non-empty bin and `usermeta.ece` the expected calibration error Σ (count/n)·|accuracy − confidence|.
 */
export function reliabilityChart(options) {
  const {confidence, correct, bins = 10} = options;
  if (!confidence || confidence.length === 0 || !correct || correct.length !== confidence.length) {
    throw new Error(`confidence and correct must be non-empty and of equal length. Received: ` +
        `${confidence?.length} confidences, ${correct?.length} outcomes`);
  }
  const acc = Array.from({length: bins}, () => ({count: 0, conf: 0, right: 0}));
  for (let i = 0; i < confidence.length; i++) {
    const c = confidence[i];
    if (!(c >= 0 && c <= 1)) throw new Error(`confidence must lie in [0, 1]. Received: confidence[${i}]=${c}`);
    const b = acc[Math.min(bins - 1, Math.floor(c * bins))];
    b.count++;
    b.conf += c;
    b.right += correct[i] ? 1 : 0;
  }
  const n = confidence.length;
  const table = [];
  let ece = 0;
  acc.forEach((b, k) => {
    if (b.count === 0) return;
    const row = {lower: k / bins, upper: (k + 1) / bins, count: b.count, confidence: b.conf / b.count,
      accuracy: b.right / b.count, share: b.count / n};
    ece += (b.count / n) * Math.abs(row.accuracy - row.confidence);
    table.push(row);
  });
  const unit = {type: 'quantitative', scale: {domain: [0, 1]}};
  return {
    ...base(options, {width: 360, height: 360}),
    usermeta: {bins: table, ece},
    layer: [
      {data: {values: table}, mark: {type: 'bar', color: '#c7d6ea', binSpacing: 1},
        encoding: {x: {field: 'lower', ...unit, title: 'confidence'}, x2: {field: 'upper'},
          y: {field: 'share', ...unit, title: 'accuracy (line) · share of examples (bars)'}, y2: {datum: 0}}},
      {data: {values: [{x: 0, y: 0}, {x: 1, y: 1}]}, mark: {type: 'line', color: '#888', strokeDash: [4, 4]},
        encoding: {x: {field: 'x', ...unit}, y: {field: 'y', ...unit}}},
      {data: {values: table}, mark: {type: 'line', point: {color: '#d62728'}, color: '#d62728'},
        encoding: {x: {field: 'confidence', ...unit}, y: {field: 'accuracy', ...unit}}},
    ],
  };
}

/**
 * Renders a Vega-Lite spec (or a full Vega spec, recognised by its `marks`) to SVG and PNG.
 * @param {object} spec
 * @param {{scale?: number}} [options] scale: PNG pixels per SVG unit (default 1).
 * @returns {Promise<{svg: string, png: Buffer, width: number, height: number}>} PNG size in pixels.
 */
export async function renderChart(spec, options = {}) {
  const {scale = 1} = options;
  const vegaSpec = Array.isArray(spec.marks) ? spec : vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(vegaSpec), {renderer: 'none', logLevel: vega.Error});
  let svg;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  return {svg, ...svgToPng(svg, {scale})};
}

/**
 * Rasterises SVG text (e.g. a hand-made figure around an embedded image) with the charts' fonts.
 * @param {string} svg
 * @param {{scale?: number}} [options]
 * @returns {{png: Buffer, width: number, height: number}}
 */
export function svgToPng(svg, options = {}) {
  const {scale = 1} = options;
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: scale === 1 ? {mode: 'original'} : {mode: 'zoom', value: scale},
    font: {loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans'},
  });
  const image = resvg.render();
  return {png: image.asPng(), width: image.width, height: image.height};
}

/** The font list the charts use, for hand-made SVG. */
export const CHART_FONT = FONT;

/**
 * Renders a spec to a PNG file (creating its directory).
 * @param {object} spec a Vega-Lite spec, e.g. from `scatterChart`
 * @param {string} file where to write the PNG
 * @param {{scale?: number, svg?: boolean}} [options] svg: also write the SVG beside it (same name, .svg).
 * @returns {Promise<{file: string, width: number, height: number}>}
 */
export async function writeChartPng(spec, file, options = {}) {
  const {svg, png, width, height} = await renderChart(spec, options);
  fs.mkdirSync(path.dirname(path.resolve(file)), {recursive: true});
  fs.writeFileSync(file, png);
  if (options.svg) fs.writeFileSync(file.replace(/\.png$/i, '') + '.svg', svg);
  return {file, width, height};
}
