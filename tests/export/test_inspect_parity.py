"""C++ seqcore_inspect vs Python predict (issue 15): same map (1e-4 of its range), image score (1e-4)
and defect list, on magnetic-tile and KolektorSDD images: small, tall, tiled, with a region of interest."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.data import open_dataset
from seqcore.data.data_root import data_root
from seqcore.models.defects import defect_list

pytest.importorskip("onnx", reason="export needs the extra seqcore[export]")
ROOT = Path(__file__).resolve().parents[2]


def _tool() -> Path:
    """The built seqcore_inspect ($SEQCORE_INSPECT, else build/cpp or build/dev); skips when absent."""
    for path in [os.environ.get("SEQCORE_INSPECT"), ROOT / "build/cpp/cpp/seqcore_inspect",
                 ROOT / "build/dev/cpp/seqcore_inspect"]:
        if path and Path(path).is_file():
            return Path(path)
    pytest.skip("seqcore_inspect is not built (needs OpenCV's C++ package; scripts/run_tests.sh builds it)")


def _dataset(kind: str, name: str, split: str):
    try:
        root = data_root(name)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return open_dataset(kind, root, split)


CASES = {  # name: (dataset kind, folder, features, test image indices)
    "magnetic-tile": ("magnetic-tile", "magnetic_tile", FeatureConfig(), (0, 7)),
    "kolektor-tall": ("mvtec", "kolektorsdd", FeatureConfig(), (0, 3)),
    "kolektor-tiled": ("mvtec", "kolektorsdd", FeatureConfig(tile_size=256, tile_overlap=64, border_pad=8), (1,)),
}


def _clear_threshold(values: np.ndarray, quantile: float = 0.995) -> float:
    """A threshold near the quantile in the widest gap between neighbouring map values, so that maps
    equal within float rounding give the same components (a pixel at the threshold could flip)."""
    unique = np.unique(values)
    at = int(quantile * (len(unique) - 1))
    lo, hi = max(0, at - 500), min(len(unique) - 1, at + 500)
    gap = lo + int(np.argmax(np.diff(unique[lo : hi + 1])))
    return float((unique[gap] + unique[gap + 1]) / 2)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    kind, folder, features, picks = CASES[request.param]
    train, test = _dataset(kind, folder, "train"), _dataset(kind, folder, "test")
    model = SequentialPatchCore(features, capacity=64)
    model.fit([train[i].image for i in range(2)], epochs=1, progress=False)
    images = [test[i].image for i in picks]
    maps = [model.predict(image).anomaly_map for image in images]
    model.threshold = _clear_threshold(np.concatenate([m.ravel() for m in maps]))
    out = tmp_path_factory.mktemp(request.param)
    model.export(out / "export")
    paths = []
    for i, image in enumerate(images):  # lossless copies: the test compares pipelines, not JPEG decoders
        paths.append(out / f"image{i}.png")
        cv2.imwrite(str(paths[-1]), image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return model, images, paths, out


def _run(case, roi: np.ndarray | None = None) -> list[tuple[dict, np.ndarray]]:
    model, images, paths, out = case
    maps = out / ("maps_roi" if roi is not None else "maps")
    maps.mkdir(exist_ok=True)
    args = [str(_tool()), str(out / "export"), *map(str, paths), "--json", str(out / "o.json"), "--maps", str(maps)]
    if roi is not None:
        cv2.imwrite(str(out / "roi.png"), roi.astype(np.uint8) * 255)
        args += ["--roi", str(out / "roi.png")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    found = json.loads((out / "o.json").read_text())["images"]
    return [(f, np.load(maps / f"{Path(f['path']).stem}.npy")) for f in found]


def _check(model, image, roi, found, cpp_map):
    pred = model.predict(image, roi)
    ref = pred.anomaly_map
    assert cpp_map.shape == ref.shape
    assert np.abs(cpp_map - ref).max() <= 1e-4 * (ref.max() - ref.min())
    assert found["image_score"] == pytest.approx(pred.score, rel=1e-4, abs=1e-6)
    assert found["anomalous"] == bool(pred.anomalous)
    expected = defect_list(ref, model.threshold, roi)
    assert [tuple(d["bbox"]) for d in found["defects"]] == [d.bbox for d in expected]
    assert [d["area"] for d in found["defects"]] == [d.area for d in expected]
    for got, want in zip(found["defects"], expected, strict=True):
        assert got["peak"] == pytest.approx(want.peak, rel=1e-4) and got["mean"] == pytest.approx(want.mean, rel=1e-4)


def test_cpp_matches_python_predict(case):
    model, images, _, _ = case
    for image, (found, cpp_map) in zip(images, _run(case), strict=True):
        _check(model, image, None, found, cpp_map)


def test_cpp_matches_python_predict_with_roi(case):
    model, images, _, _ = case
    if len({im.shape[:2] for im in images}) > 1:
        images = images[:1]  # the tool applies one mask to every image
    h, w = images[0].shape[:2]
    roi = np.zeros((h, w), bool)
    roi[h // 5 : h - h // 4, w // 6 : w - w // 3] = True
    for image, (found, cpp_map) in zip(images, _run((model, images, case[2][: len(images)], case[3]), roi),
                                       strict=True):
        _check(model, image, roi, found, cpp_map)


def _tool_run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(_tool()), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", ["magnetic-tile"], indirect=True)
def test_cpp_reads_16bit_files_as_python_does(case):
    """16-bit gray and colour PNGs: the tool decodes them as read_image does, so it matches
    read_image + predict (gray: round(v / 257); colour: Pillow's high byte)."""
    from seqcore.data.images import read_image

    model, images, _, out = case
    rng = np.random.default_rng(15)
    base = (images[0] if images[0].ndim == 3 else np.repeat(images[0][:, :, None], 3, axis=2)).astype(np.int64)
    wide = (base * 257 + rng.integers(-128, 129, base.shape)).clip(0, 65535)
    paths = [out / "gray16.png", out / "colour16.png"]
    cv2.imwrite(str(paths[0]), wide[:, :, 0].astype(np.uint16))
    cv2.imwrite(str(paths[1]), cv2.cvtColor(wide.astype(np.uint16), cv2.COLOR_RGB2BGR))
    assert cv2.imread(str(paths[0]), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    pixels = [read_image(p) for p in paths]
    for image, (found, cpp_map) in zip(pixels, _run((model, pixels, paths, out)), strict=True):
        _check(model, image, None, found, cpp_map)


@pytest.mark.parametrize("case", ["magnetic-tile"], indirect=True)
def test_cpp_matches_python_on_tiny_images(case):
    """Slivers of 5 x 40 and 12 x 9 pixels: sized up to a short side of 256 as predict does."""
    model, images, _, out = case
    tiny = [np.ascontiguousarray(images[0][:5, :40]), np.ascontiguousarray(images[0][:12, :9])]
    paths = [out / "tiny0.png", out / "tiny1.png"]
    for path, image in zip(paths, tiny, strict=True):
        cv2.imwrite(str(path), image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    for image, (found, cpp_map) in zip(tiny, _run((model, tiny, paths, out)), strict=True):
        _check(model, image, None, found, cpp_map)


@pytest.mark.parametrize("case", ["magnetic-tile"], indirect=True)
def test_cpp_tool_reports_bad_input_clearly(case, tmp_path):
    """Exit status 1 and one error line, never a crash: an unreadable image, a missing ONNX file,
    an ONNX file that is not the exported one (images too small for the border: ctest)."""
    _, _, paths, out = case
    not_image = tmp_path / "not_image.png"
    not_image.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    missing, mismatched = tmp_path / "missing", tmp_path / "mismatched"
    shutil.copytree(out / "export", missing)
    (missing / "extractor.onnx").unlink()
    shutil.copytree(out / "export", mismatched)
    with (mismatched / "extractor.onnx").open("ab") as f:
        f.write(b"\0")
    cases = [(out / "export", not_image, "cannot read image"), (missing, paths[0], "extractor.onnx (missing"),
             (mismatched, paths[0], "mismatched ONNX file")]
    for directory, image, message in cases:
        run = _tool_run(directory, image)
        last = run.stderr.strip().splitlines()[-1]  # after any decoder warnings (libpng)
        assert run.returncode == 1 and last.startswith("seqcore_inspect: error:") and message in last, run.stderr


def _cmake() -> str:
    """cmake beside the interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).parent / "cmake"
    return str(local) if local.is_file() else shutil.which("cmake") or pytest.skip("cmake is not installed")


@pytest.mark.parametrize("case", ["magnetic-tile"], indirect=True)
def test_example_builds_against_the_installed_package(case, tmp_path):
    """cpp/examples/inspect_line, a separate CMake project linking only seqcore::inspect, configured
    with find_package(seqcore) against an install into a temporary prefix; it gives the tool's score."""
    model, images, paths, out = case
    build = _tool().parent.parent  # the build tree that holds seqcore_inspect (OpenCV was found there)
    if not (build / "CMakeCache.txt").is_file():
        pytest.skip(f"{build} is not a CMake build tree (SEQCORE_INSPECT points outside one)")
    cmake, prefix = _cmake(), tmp_path / "prefix"
    steps = [[cmake, "--install", str(build), "--prefix", str(prefix)],
             [cmake, "-S", str(ROOT / "cpp/examples/inspect_line"), "-B", str(tmp_path / "build"),
              f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"],
             [cmake, "--build", str(tmp_path / "build"), "-j", "2"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (prefix / "include/seqcore/inspector.hpp").is_file()
    example = tmp_path / "build/inspect_line"
    run = subprocess.run([str(example), str(out / "export"), str(paths[0])], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode in (0, 3), run.stderr
    score = float(run.stdout.split()[1])
    found, _ = _run((model, images[:1], paths[:1], out))[0]
    assert score == pytest.approx(found["image_score"], rel=1e-5)
    assert (run.returncode == 3) == found["anomalous"]
    assert run.stdout.count("  defect at") == len(found["defects"])
    missing = subprocess.run([str(example), str(tmp_path / "nothing"), str(paths[0])], capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot open" in missing.stderr
