/**
 * The D_t series (Eq 8) of one block against its delta, as an inline SVG drawn here (no chart
 * library: one line, one threshold, one marker). Log-scale y because D_t falls by orders of
 * magnitude as the block settles. Colours come from CSS classes bound to VS Code theme variables.
 */
import type { BlockView } from "./state";

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 120;
const PAD = { left: 44, right: 10, top: 12, bottom: 22 };
/** Inner gap so step 1 and the undefined-D_t marks sit clear of the y axis. */
const INSET = 8;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, cls?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (cls) node.setAttribute("class", cls);
  return node;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(1);
}

export function klChart(block: BlockView): SVGSVGElement {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `D_t per step for block ${block.index}` }, "kl-chart");
  svg.dataset.block = String(block.index);
  const defined = block.points.filter((p) => p.kl !== null && p.kl > 0).map((p) => p.kl as number);
  const delta = block.delta;
  const lo0 = Math.min(...defined, delta ?? Infinity, 1);
  const hi0 = Math.max(...defined, delta ?? 0, 1e-3);
  const lo = Math.log10(Math.max(lo0 / 2, 1e-6));
  const hi = Math.log10(hi0 * 2);
  const steps = Math.max(block.budget, block.points.length, 2);
  const x = (step: number): number => PAD.left + INSET + ((step - 1) / (steps - 1)) * (W - PAD.left - PAD.right - INSET);
  const y = (v: number): number => {
    const t = (Math.log10(Math.max(v, 1e-6)) - lo) / (hi - lo || 1);
    return H - PAD.bottom - t * (H - PAD.top - PAD.bottom);
  };

  // axes and decade gridlines
  svg.append(el("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }, "axis"));
  svg.append(el("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }, "axis"));
  for (let d = Math.ceil(lo); d <= Math.floor(hi); d++) {
    const yy = y(10 ** d);
    svg.append(el("line", { x1: PAD.left, y1: yy, x2: W - PAD.right, y2: yy }, "grid"));
    const label = el("text", { x: PAD.left - 4, y: yy + 3, "text-anchor": "end" }, "tick");
    label.textContent = `1e${d}`;
    svg.append(label);
  }
  const yTitle = el("text", { x: 4, y: PAD.top - 3 }, "tick axis-title");
  yTitle.textContent = "D_t";
  svg.append(yTitle);
  const xTitle = el("text", { x: W - PAD.right, y: H - 6, "text-anchor": "end" }, "tick axis-title");
  xTitle.textContent = `step (budget ${steps})`;
  svg.append(xTitle);
  for (const s of [1, Math.ceil(steps / 2)]) {
    const t = el("text", { x: x(s), y: H - 6, "text-anchor": "middle" }, "tick");
    t.textContent = String(s);
    svg.append(t);
  }

  if (delta !== null) {
    svg.append(el("line", { x1: PAD.left, y1: y(delta), x2: W - PAD.right, y2: y(delta) }, "delta-line"));
    const t = el("text", { x: W - PAD.right - 2, y: y(delta) - 3, "text-anchor": "end" }, "delta-label");
    t.textContent = `δ = ${fmt(delta)}`;
    svg.append(t);
  }

  if (block.stopStep !== null) {
    const sx = x(block.stopStep);
    svg.append(el("line", { x1: sx, y1: PAD.top, x2: sx, y2: H - PAD.bottom }, "stop-line"));
    const t = el("text", { x: sx + 3, y: PAD.top + 9 }, "stop-label");
    t.textContent = `stop @ ${block.stopStep}`;
    svg.append(t);
  }

  // D_t polyline, broken where D_t is undefined (|I_t| < 2 counts as unstable, Alg. 1)
  let run: string[] = [];
  const flush = (): void => {
    if (run.length > 1) svg.append(el("polyline", { points: run.join(" ") }, "kl-line"));
    run = [];
  };
  for (const p of block.points) {
    if (p.kl === null) {
      flush();
      const mark = el("text", { x: x(p.step), y: H - PAD.bottom - 3, "text-anchor": "middle" }, "undef-mark");
      mark.textContent = "×";
      svg.append(mark);
      continue;
    }
    const px = x(p.step);
    const py = y(p.kl);
    run.push(`${px.toFixed(1)},${py.toFixed(1)}`);
    const dot = el("circle", { cx: px, cy: py, r: 2.2 }, p.polish ? "kl-dot polish" : delta !== null && p.kl < delta ? "kl-dot below" : "kl-dot");
    const title = el("title", {});
    title.textContent = `step ${p.step}: D_t = ${p.kl.toExponential(2)}${p.counter !== null ? `, c = ${p.counter}` : ""}${p.margin !== null ? `, m_t = ${p.margin.toFixed(3)}` : ""}`;
    dot.append(title);
    svg.append(dot);
  }
  flush();
  return svg;
}
