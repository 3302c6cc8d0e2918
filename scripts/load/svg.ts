import type { LevelResult } from "./run.ts";

/**
 * Latency vs concurrency as a self-contained SVG (no plotting dependency): per-word p50/p95/p99 (left axis, ms) and
 * aggregate words/s as bars (right axis), one column per concurrency level, with the issue's targets marked.
 */
export function loadSvg(rows: readonly LevelResult[], caption: string): string {
  const W = 720;
  const H = 400;
  const m = { l: 64, r: 64, t: 40, b: 72 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const maxMs = niceCeil(Math.max(3_000, ...rows.map((r) => r.ms_per_word.p99)) * 1.05);
  const maxRate = niceCeil(Math.max(4, ...rows.map((r) => r.words_per_s)) * 1.15);
  const x = (i: number) => m.l + (pw * (i + 0.5)) / rows.length;
  const y = (ms: number) => m.t + ph - (ph * ms) / maxMs;
  const yr = (rate: number) => m.t + ph - (ph * rate) / maxRate;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">bench:load — latency per word vs concurrent users</text>`);
  // grid + left axis
  for (let k = 0; k <= 5; k++) {
    const v = (maxMs * k) / 5;
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`);
    const rv = (maxRate * k) / 5;
    out.push(`<text x="${W - m.r + 6}" y="${yr(rv) + 4}" fill="#4a7">${rv.toFixed(1)}</text>`);
  }
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">ms per word</text>`);
  out.push(`<text transform="translate(${W - 14} ${m.t + ph / 2}) rotate(90)" text-anchor="middle" fill="#4a7">words/s (all users)</text>`);
  // bars: words/s
  const bw = Math.min(48, pw / rows.length / 3);
  rows.forEach((r, i) => {
    out.push(`<rect x="${x(i) - bw / 2}" y="${yr(r.words_per_s)}" width="${bw}" height="${m.t + ph - yr(r.words_per_s)}" fill="#bfe3cc"/>`);
    out.push(`<text x="${x(i)}" y="${yr(r.words_per_s) - 4}" text-anchor="middle" fill="#4a7">${r.words_per_s}</text>`);
    out.push(`<text x="${x(i)}" y="${m.t + ph + 18}" text-anchor="middle">${r.users} user${r.users === 1 ? "" : "s"}</text>`);
    if (r.errors > 0) out.push(`<text x="${x(i)}" y="${m.t + ph + 34}" text-anchor="middle" fill="#c00">${r.errors} errors</text>`);
  });
  // targets: p95 ≤ 3 s and ≥ 4 words/s at 8 users; ≤ 250 ms per word for a lone user
  out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(3_000)}" y2="${y(3_000)}" stroke="#c33" stroke-dasharray="2 4"/>`);
  out.push(`<text x="${m.l + 4}" y="${y(3_000) - 4}" fill="#c33">p95 target at 8 users: 3 s</text>`);
  const lone = rows.findIndex((r) => r.users === 1);
  if (lone >= 0) {
    out.push(`<line x1="${x(lone) - 24}" x2="${x(lone) + 24}" y1="${y(250)}" y2="${y(250)}" stroke="#c33" stroke-width="2"/>`);
    out.push(`<text x="${x(lone) + 28}" y="${y(250) + 4}" fill="#c33">250 ms</text>`);
  }
  const series: [string, (r: LevelResult) => number, string, string][] = [
    ["p50", (r) => r.ms_per_word.p50, "#124", ""],
    ["p95", (r) => r.ms_per_word.p95, "#36c", "6 3"],
    ["p99", (r) => r.ms_per_word.p99, "#9ad", "2 3"],
  ];
  series.forEach(([name, f, color, dash], k) => {
    const pts = rows.map((r, i) => `${x(i).toFixed(1)},${y(f(r)).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
    rows.forEach((r, i) => out.push(`<circle cx="${x(i)}" cy="${y(f(r))}" r="3" fill="${color}"/>`));
    const lx = m.l + 10 + k * 90;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${H - 22}" y2="${H - 22}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
    out.push(`<text x="${lx + 30}" y="${H - 18}">${name}</text>`);
  });
  rows.forEach((r, i) => out.push(`<text x="${x(i) + 6}" y="${y(r.ms_per_word.p50) + 14}" fill="#124">${Math.round(r.ms_per_word.p50)}</text>`));
  out.push(`<text x="${W - m.r}" y="${H - 18}" text-anchor="end" fill="#555">${esc(caption)}</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}
