/** A small SVG line chart: one line per series over a shared x axis (epochs). */
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#4f7cff", "#e8793a", "#2fb37a", "#c64bc9", "#d4b000", "#19a7c4", "#e0475b", "#7a7a7a"];

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export interface Series {
  label: string;
  values: number[];
}

export interface ChartOptions {
  width?: number;
  height?: number;
  yFormat?: (v: number) => string;
  /** Upper bound of the y axis for bounded quantities (a share: 1); the axis never goes past it. */
  yMax?: number;
}

/**
 * The top of the y axis: 10% headroom above the highest point, rounded up to a round number, never past a stated
 * bound (a share's axis stops at 100%). All zeros (a forfeited epoch, miners with no share yet) still get a readable
 * axis — the bound, or 1 — instead of five ticks of 0.
 */
export function axisMax(values: readonly number[], bound?: number): number {
  const highest = Math.max(0, ...values.filter(Number.isFinite));
  const top = highest > 0 ? niceCeil(highest * 1.1) : bound ?? 1;
  return bound !== undefined ? Math.min(bound, top) : top;
}

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above `v` (v > 0). */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function lineChart(xLabels: string[], series: Series[], opts: ChartOptions = {}): SVGSVGElement {
  const W = opts.width ?? 640;
  const H = opts.height ?? 260;
  const pad = { l: 56, r: 150, t: 12, b: 32 };
  const fmt = opts.yFormat ?? ((v: number) => v.toFixed(2));
  const max = axisMax(series.flatMap((x) => x.values), opts.yMax);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  const x = (i: number) => pad.l + (xLabels.length <= 1 ? (W - pad.l - pad.r) / 2 : (i * (W - pad.l - pad.r)) / (xLabels.length - 1));
  const y = (v: number) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.append(s("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v)));
  }
  xLabels.forEach((l, i) => svg.append(s("text", { x: x(i), y: H - 10, "text-anchor": "middle", class: "tick" }, l)));
  series.forEach((ser, k) => {
    const color = COLORS[k % COLORS.length];
    if (ser.values.length > 1) {
      const d = ser.values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2 }));
    }
    ser.values.forEach((v, i) => svg.append(s("circle", { cx: x(i), cy: y(v), r: 3.5, fill: color })));
    svg.append(s("rect", { x: W - pad.r + 12, y: pad.t + k * 18, width: 10, height: 10, fill: color }));
    svg.append(s("text", { x: W - pad.r + 28, y: pad.t + k * 18 + 9, class: "legend" }, ser.label));
  });
  return svg;
}
