"use strict";
// Recomputes the evaluator's figures at any threshold (see seqcore/report/html.py for the contract).
const D = JSON.parse(document.getElementById("data").textContent);

async function inflate(b64) {  // zlib stream -> bytes, with the browser's own DecompressionStream
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function unpackScores(b64) {  // 4 byte planes -> float32 values
  const planes = await inflate(b64), n = planes.length / 4, out = new Uint8Array(planes.length);
  for (let b = 0; b < 4; b++) for (let i = 0; i < n; i++) out[4 * i + b] = planes[b * n + i];
  return new Float32Array(out.buffer);
}

function decode(b64, Type) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

const negBins = decode(D.neg_bins, Int32Array), negCounts = decode(D.neg_counts, Float64Array);
const negTail = new Float64Array(D.n_bins + 1);  // negatives in bins k.. (exact integers)
{
  const counts = new Float64Array(D.n_bins);
  negBins.forEach((b, i) => { counts[b] = negCounts[i]; });
  for (let k = D.n_bins - 1; k >= 0; k--) negTail[k] = negTail[k + 1] + counts[k];
}
const instClass = decode(D.inst_class, Int32Array), instSize = decode(D.inst_size, Int32Array);
let instScores = new Float32Array(0);
const goodMaxima = decode(D.good_maxima, Float64Array);
const nClasses = D.classes.length;

function pairwiseSum(a, start, n) {  // numpy's pairwise summation of float64 (np.add.reduce)
  if (n < 8) { let s = 0; for (let i = start; i < start + n; i++) s += a[i]; return s; }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[start + i];
    return s;
  }
  let n2 = Math.floor(n / 2); n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

function figures(t) {
  const t32 = Math.fround(t);
  const hitsPx = new Float64Array(nClasses), sizePx = new Float64Array(nClasses);
  const inst = new Float64Array(nClasses), det = new Float64Array(nClasses);
  let offset = 0;
  for (let i = 0; i < instSize.length; i++) {
    const n = instSize[i], c = instClass[i];
    let hits = 0;
    for (let j = offset; j < offset + n; j++) if (instScores[j] >= t32) hits++;
    offset += n;
    hitsPx[c] += hits; sizePx[c] += n; inst[c] += 1;
    if (D.tau_cov >= 1 ? hits === n : hits / n > D.tau_cov) det[c] += 1;
  }
  let tp = 0, nPos = 0;
  for (let c = 0; c < D.n_defect; c++) { tp += hitsPx[c]; nPos += sizePx[c]; }
  let k = Math.ceil((t - D.lo) / D.width - 1e-9);
  k = Math.min(Math.max(k, 0), D.n_bins);
  const fp = negTail[k];
  const out = {};
  out.precision = tp + fp === 0 ? null : tp / (tp + fp);
  out.recall = nPos === 0 ? null : tp / nPos;
  out.f1 = out.precision === null || out.recall === null ? null
    : (out.precision + out.recall === 0 ? 0 : 2 * out.precision * out.recall / (out.precision + out.recall));
  const defined = [];
  let impurity = null;
  D.classes.forEach((name, c) => {
    out["R_PX " + name] = sizePx[c] === 0 ? null : hitsPx[c] / sizePx[c];
    const r = inst[c] === 0 ? null : det[c] / inst[c];
    out["R_DW " + name] = r;
    if (r !== null && c < D.n_defect) defined.push(r);
    if (r !== null && c >= D.n_defect) impurity = impurity === null ? r : Math.max(impurity, r);
  });
  out.mR_DW = defined.length ? pairwiseSum(Float64Array.from(defined), 0, defined.length) / defined.length : null;
  out.impurity_R_DW = impurity;
  let calls = 0;
  for (let i = 0; i < goodMaxima.length; i++) if (Math.fround(goodMaxima[i]) >= t32) calls++;
  out.false_calls_per_good_image = goodMaxima.length ? calls / goodMaxima.length : null;
  if (D.good_area_m2 !== null) out.false_calls_per_m2 = goodMaxima.length ? calls / D.good_area_m2 : null;
  return out;
}

const slider = document.getElementById("slider"), input = document.getElementById("threshold-input");
const live = document.querySelector("#live tbody");
slider.max = String(D.n_bins);

function show(t) {
  const f = figures(t);
  input.value = String(t);
  live.innerHTML = "";
  for (const [key, v] of Object.entries(f)) {
    const row = document.createElement("tr");
    row.dataset.key = key;
    const text = v === null ? "n/a" : (key === "false_calls_per_m2" ? v.toPrecision(4) : (100 * v).toFixed(2) + " %");
    row.innerHTML = "<td></td><td></td>";
    row.children[0].textContent = key;
    row.children[1].textContent = text;
    row.children[1].dataset.value = v === null ? "null" : String(v);
    live.appendChild(row);
  }
  document.body.dataset.threshold = String(t);
  tagGallery(t);
}

function edgeIndex(t) { return Math.min(Math.max(Math.round((t - D.lo) / D.width), 0), D.n_bins); }
slider.addEventListener("input", () => show(D.lo + D.width * Number(slider.value)));
input.addEventListener("change", () => {
  const t = Number(input.value);
  if (Number.isFinite(t)) { slider.value = String(edgeIndex(t)); show(t); }
});
document.getElementById("reset").addEventListener("click", () => {
  slider.value = String(edgeIndex(D.threshold)); show(D.threshold);
});

const hidden = new Set();
const cards = D.gallery.map((g) => {
  const card = document.createElement("div");
  card.className = "card";
  card.innerHTML = '<img alt=""><div><span class="tag"></span> <b></b><br><span class="meta"></span></div>';
  card.querySelector("img").src = "data:image/jpeg;base64," + g.jpeg;
  card.querySelector("b").textContent = g.name;
  card.querySelector(".meta").textContent = "image score " + g.score.toPrecision(5) + " · peak " +
    g.peak.toPrecision(5) + " at (x " + g.peak_xy[0] + ", y " + g.peak_xy[1] + ")";
  document.getElementById("gallery").appendChild(card);
  return card;
});

function tagGallery(t) {
  const t32 = Math.fround(t);
  D.gallery.forEach((g, i) => {
    const called = Math.fround(g.peak) >= t32;
    const tag = g.anomalous ? (called ? "TP" : "FN") : (called ? "FP" : "TN");
    const el = cards[i].querySelector(".tag");
    el.textContent = tag; el.className = "tag " + tag;
    cards[i].style.display = hidden.has(tag) ? "none" : "";
  });
}

for (const tag of ["TP", "FP", "FN", "TN"]) {
  const b = document.createElement("button");
  b.textContent = tag;
  b.addEventListener("click", () => {
    if (hidden.has(tag)) { hidden.delete(tag); b.className = ""; } else { hidden.add(tag); b.className = "off"; }
    tagGallery(Number(input.value));
  });
  document.getElementById("filters").appendChild(b);
}

async function main() {
  instScores = await unpackScores(D.inst_scores);
  slider.value = String(edgeIndex(D.threshold));
  show(D.threshold);
}

main();
