"""Self-contained report.html: tables, plots, a threshold slider recomputing the figures in the
browser from the exported histogram and instance scores, and a TP/FP/FN gallery (issue 21).

Exactness contract: the page computes P/R/F1, R_DW per class and false calls per good image with
the evaluator's formulas (``Evaluator.compute`` and ``metrics.operating``) on the very same data:
the negative-pixel histogram (sparse, exact counts), every instance's float32 pixel scores and the
good images' pixel maxima; float32 comparisons use ``Math.fround`` as numpy does, and mR_DW uses
numpy's pairwise summation. Nothing is fetched: scripts, styles and images are inline.
"""
from __future__ import annotations

import base64
import html
import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from seqcore.data.sample import GroundTruth
from seqcore.metrics.evaluator import Evaluator
from seqcore.metrics.result import EvaluationResult
from seqcore.report import tables
from seqcore.report.overlays import overlay

_ASSETS = Path(__file__).parent / "assets"
GALLERY_WIDTH = 480  # px of each gallery overlay (JPEG)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _packed_scores(sizes: np.ndarray, scores: np.ndarray) -> str:
    """Instance scores, lossless and small: sorted within each instance (counts do not depend on the
    order), split into the 4 byte planes of the float32 values and deflated (zlib)."""
    owner = np.repeat(np.arange(len(sizes)), sizes)
    ordered = scores.astype("<f4")[np.lexsort((scores, owner))]
    planes = ordered.view(np.uint8).reshape(-1, 4).T.copy()
    return base64.b64encode(zlib.compress(planes.tobytes(), 6)).decode("ascii")


def page_data(evaluator: Evaluator, result: EvaluationResult, pixel_size_mm: float | None = None) -> dict:
    """Everything the page's slider needs, as JSON with base64 little-endian typed arrays."""
    classes, sizes, scores = evaluator.instance_arrays()
    hist = evaluator.pixel_histogram()
    counts = hist.counts[0]  # negative pixels per bin
    nonzero = np.flatnonzero(counts)
    labels = np.asarray(evaluator.image_labels, bool)
    good_pixels = np.asarray(evaluator.image_pixels, np.int64)[~labels]
    return {
        "lo": hist.lo, "width": hist.width, "n_bins": evaluator.n_bins,
        "neg_bins": _b64(nonzero.astype("<i4")), "neg_counts": _b64(counts[nonzero].astype("<f8")),
        "classes": evaluator.classes, "n_defect": len(evaluator.defect_classes),
        "inst_class": _b64(classes.astype("<i4")), "inst_size": _b64(sizes.astype("<i4")),
        "inst_scores": _packed_scores(sizes, scores),
        "good_maxima": _b64(np.asarray(evaluator.image_maxima, "<f8")[~labels]),
        "good_area_m2": None if pixel_size_mm is None else float(good_pixels.sum()) * pixel_size_mm**2 / 1e6,
        "tau_cov": result.tau_cov, "threshold": result.threshold, "min_area": result.min_area,
    }


def gallery_item(name: str, image: np.ndarray, score_map: np.ndarray, gt, result: EvaluationResult,
                 anomalous: bool, image_score: float) -> dict:
    """One gallery entry: a JPEG of the TP/FP/FN overlay, drawn at gallery size (nearest-neighbour
    downscaling of map and masks, so it is cheap on large images), with the map peak marked."""
    score_map = np.asarray(score_map, np.float32)
    masked = score_map if gt.roi is None else np.where(gt.roi, score_map, -np.inf)
    row, col = np.unravel_index(int(np.argmax(masked)), masked.shape)
    scale = min(1.0, GALLERY_WIDTH / score_map.shape[1])
    size = (max(1, round(score_map.shape[1] * scale)), max(1, round(score_map.shape[0] * scale)))
    near = lambda a: cv2.resize(a, size, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    small_gt = GroundTruth(near(gt.class_mask.astype(np.int32)), gt.class_names,
                           roi=None if gt.roi is None else near(gt.roi.view(np.uint8)) > 0)
    small = overlay(cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_AREA), near(score_map), small_gt,
                    result.threshold, result.defect_classes, result.impurity_classes)
    cv2.drawMarker(small, (int(col * scale), int(row * scale)), (255, 0, 255), cv2.MARKER_CROSS, 18, 2)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError(f"cannot encode the overlay of {name}")
    return {"name": str(name), "anomalous": bool(anomalous), "score": float(image_score),
            "peak": float(masked[row, col]), "peak_xy": [int(col), int(row)],
            "jpeg": base64.b64encode(jpeg.tobytes()).decode("ascii")}


def _table_html(markdown: str) -> str:
    """HTML of a pipe table written by report.tables."""
    rows = [line.strip().strip("|").split("|") for line in markdown.strip().splitlines()]
    rows = [r for r in rows if not all(set(c.strip()) <= set(":-") for c in r)]
    head, body = rows[0], rows[1:]
    out = ["<table><thead><tr>", *(f"<th>{html.escape(c.strip())}</th>" for c in head), "</tr></thead><tbody>"]
    for r in body:
        out += ["<tr>", *(f"<td>{html.escape(c.strip())}</td>" for c in r), "</tr>"]
    return "".join(out + ["</tbody></table>"])


def _png(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'


def write_html(
    path: str | Path, evaluator: Evaluator, result: EvaluationResult, plots: Mapping[str, Path] | None = None,
    gallery: Sequence[dict] = (), title: str = "Evaluation", details: Mapping[str, str] | None = None,
    pixel_size_mm: float | None = None,
) -> Path:
    """Write the self-contained page to ``path``; ``plots`` are PNGs to inline, ``gallery`` from ``gallery_item``."""
    runs = {"this run": result}
    sections = [("Pixel and defect-wise metrics (%)", tables.table_ii(runs)),
                ("Per-class recall (%)", tables.table_i(runs)),
                ("Threshold-free measures (%)", tables.threshold_free_table(runs)),
                ("Coverage sweep: R_DW (%) against τ_cov", tables.coverage_table(result)),
                ("Counts", tables.counts_table(result))]
    body = "".join(f"<h3>{html.escape(h)}</h3>{_table_html(t)}" for h, t in sections)
    info = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in (details or {}).items())
    figures = "".join(f"<figure>{_png(p)}</figure>" for p in (plots or {}).values())
    data = page_data(evaluator, result, pixel_size_mm) | {"gallery": sorted(gallery, key=lambda g: -g["score"])}
    template = (_ASSETS / "report.html").read_text()
    page = (template.replace("{{TITLE}}", html.escape(title))
            .replace("{{CSS}}", (_ASSETS / "report.css").read_text())
            .replace("{{DETAILS}}", info).replace("{{TABLES}}", body).replace("{{PLOTS}}", figures)
            .replace("{{DATA}}", json.dumps(data).replace("</", "<\\/"))
            .replace("{{JS}}", (_ASSETS / "report.js").read_text()))
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def page_figures(evaluator: Evaluator, threshold: float, tau_cov: float = 0.0,
                 pixel_size_mm: float | None = None) -> dict[str, float | None]:
    """The figures the page's slider shows at ``threshold``, computed by the Python evaluator."""
    from seqcore.metrics.operating import operating_point

    r = evaluator.compute(threshold, tau_cov=tau_cov)
    point = operating_point(evaluator, "f1", threshold, tau_cov)
    out: dict[str, float | None] = {"precision": r.precision, "recall": r.recall, "f1": r.f1}
    for name in evaluator.classes:
        out[f"R_PX {name}"] = r.class_recall_px[name]
        out[f"R_DW {name}"] = r.class_recall_dw[name]
    out |= {"mR_DW": r.mR_DW, "impurity_R_DW": point.impurity_R_DW,
            "false_calls_per_good_image": point.false_calls_per_good_image}
    if pixel_size_mm is not None:
        out["false_calls_per_m2"] = false_calls_per_m2(evaluator, threshold, pixel_size_mm)
    return out


def false_calls_per_m2(evaluator: Evaluator, threshold: float, pixel_size_mm: float) -> float | None:
    """Good images called at ``threshold`` per m² of inspected good surface (ROI pixels × pixel size²)."""
    labels = np.asarray(evaluator.image_labels, bool)
    maxima = np.asarray(evaluator.image_maxima, np.float64)[~labels].astype(np.float32)
    if len(maxima) == 0:
        return None
    area = float(np.asarray(evaluator.image_pixels, np.int64)[~labels].sum()) * pixel_size_mm**2 / 1e6
    return int((maxima >= np.float32(threshold)).sum()) / area
