/**
 * A line chart as SVG, for the figures the benches write into docs/ (a few series of a few points:
 * a small hand-written SVG is simpler than a charting dependency). X is log-scaled when asked.
 */
export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<{ readonly x: number; readonly y: number }>
}

const W = 640
const H = 360
const M = { left: 70, right: 20, top: 40, bottom: 50 }
const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706"]
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const fmt = (v: number) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : `${Number(v.toPrecision(3))}`)

export const lineChart = (o: { readonly title: string; readonly xLabel: string; readonly yLabel: string; readonly series: ReadonlyArray<Series>; readonly logX?: boolean }): string => {
  const all = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y))
  const xs = all.map((p) => p.x)
  const fx = (x: number) => (o.logX ? Math.log10(x) : x)
  const x0 = fx(Math.min(...xs))
  const x1 = fx(Math.max(...xs))
  // A round top for the y axis (1, 2, 2.5 or 5 × a power of ten), so the four gridlines read plainly.
  const top = Math.max(...all.map((p) => p.y)) * 1.05 || 1
  const unit = 10 ** Math.floor(Math.log10(top))
  const y1 = unit * ([1, 2, 2.5, 5, 10].find((m) => m * unit >= top) ?? 10)
  const px = (x: number) => M.left + ((fx(x) - x0) / (x1 - x0 || 1)) * (W - M.left - M.right)
  const py = (y: number) => H - M.bottom - (y / y1) * (H - M.top - M.bottom)
  const out: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(o.yLabel)}</text>`
  ]
  for (let i = 0; i <= 4; i++) {
    const y = (y1 / 4) * i
    out.push(`<line x1="${M.left}" y1="${py(y)}" x2="${W - M.right}" y2="${py(y)}" stroke="#eee"/>`)
    out.push(`<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`)
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) out.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(x)}</text>`)
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const pts = s.points.filter((p) => Number.isFinite(p.y))
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`)
    for (const p of pts) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`)
    out.push(`<rect x="${M.left + 12}" y="${M.top + 4 + i * 18}" width="12" height="3" fill="${color}"/>`)
    out.push(`<text x="${M.left + 30}" y="${M.top + 9 + i * 18}">${esc(s.name)}</text>`)
  })
  out.push("</svg>")
  return `${out.join("\n")}\n`
}
