"""Surface generator: shapes, masks, determinism, stained/clean pairs, light variants."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seqcore.synth.shading import RingLight
from seqcore.synth.surface import CLASS_IDS, DEFECT_CLASSES, SurfaceGenerator
from seqcore.synth.water_stains import WaterStainParams

GEN = SurfaceGenerator(96, 128, pixel_pitch_mm=0.05, stains=WaterStainParams(
    radius_mm=0.6, radius_spread_mm=0.2, amplitude_mm=0.15, cell_size_mm=1.5, probability=0.7))


@pytest.fixture(scope="module")
def scene():
    return GEN.sample_scene(5, defects=DEFECT_CLASSES, fingerprints=1, stickers=1)


@pytest.fixture(scope="module")
def variants(scene):
    base = scene.light
    return GEN.render_variants(scene, {
        "clean": (base, False),
        "stained": (base, True),
        "rot90": (RingLight(rotation_deg=90.0), False),
        "scale2": (RingLight(scale=2.0), False),
    })


def test_output_shapes_dtypes_and_ids(variants) -> None:
    r = variants["stained"]
    assert r.image.shape == (96, 128) and r.image.dtype == np.uint8
    assert r.class_mask.dtype == np.uint8 and r.instance_mask.dtype == np.int32
    assert r.roi.dtype == bool and r.stain_mask.shape == (96, 128)
    assert set(np.unique(r.class_mask)) == {0} | set(CLASS_IDS.values())
    ids = np.unique(r.instance_mask)
    assert np.array_equal(ids, np.arange(len(ids)))  # 0 plus 1..n, no gaps
    for k in ids[1:]:  # one class per instance, background never carries an instance
        assert len(np.unique(r.class_mask[r.instance_mask == k])) == 1
    assert np.array_equal(r.class_mask > 0, r.instance_mask > 0)
    encoded = r.encoded_mask()
    assert encoded.dtype == np.uint16
    assert np.array_equal(encoded // 1000, r.class_mask) and np.array_equal(encoded % 1000, r.instance_mask)
    json.dumps(r.params)


def test_border_is_masked(variants) -> None:
    r = variants["clean"]
    b = GEN.camera.border_px
    assert not r.roi[:b].any() and r.roi[b:-b, b:-b].all()
    assert (r.image[~r.roi] == 0).all() and (r.class_mask[~r.roi] == 0).all()
    assert r.image[r.roi].mean() > 60  # the plate itself is exposed, not black


def test_same_seed_same_image_other_seed_other_image(scene) -> None:
    again = GEN.sample_scene(5, defects=DEFECT_CLASSES, fingerprints=1, stickers=1)
    assert again == scene
    a, b = GEN.render(scene), GEN.render(again)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.instance_mask, b.instance_mask)
    other = GEN.render(GEN.sample_scene(6, defects=DEFECT_CLASSES))
    assert not np.array_equal(a.image, other.image)


def test_stained_and_clean_differ_only_inside_stain_mask(variants) -> None:
    clean, stained = variants["clean"], variants["stained"]
    assert stained.stain_mask.any() and not clean.stain_mask.any()
    differs = clean.image != stained.image
    assert differs.any() and not differs[stained.stain_mask == 0].any()
    defects = np.isin(clean.class_mask, [CLASS_IDS[c] for c in DEFECT_CLASSES])
    assert np.array_equal(defects, np.isin(stained.class_mask, [CLASS_IDS[c] for c in DEFECT_CLASSES]))
    assert (stained.class_mask == CLASS_IDS["water_stain"]).any()
    assert not (clean.class_mask == CLASS_IDS["water_stain"]).any()


def test_light_variants_change_shading_not_masks(variants) -> None:
    base = variants["clean"]
    for name in ("rot90", "scale2"):
        other = variants[name]
        assert np.array_equal(other.class_mask, base.class_mask)
        assert np.abs(other.image.astype(int) - base.image).mean() > 0.5
        assert other.params["light"] != base.params["light"]


def test_nominal_scene_has_no_defects_and_defects_change_the_image() -> None:
    nominal = GEN.sample_scene(9)
    defective = GEN.sample_scene(9, defects=("scratch",))
    a, b = GEN.render(nominal, stains=False), GEN.render(defective, stains=False)
    assert not a.class_mask.any()
    scratch = b.class_mask == CLASS_IDS["scratch"]
    assert scratch.any()
    diff = np.abs(a.image.astype(int) - b.image)
    assert diff[scratch].mean() > diff[~scratch].mean() + 1


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        GEN.sample_scene(0, defects=("crack",))
    with pytest.raises(ValueError, match="at least 16"):
        SurfaceGenerator(8, 8)
    with pytest.raises(ValueError, match="multiple of 6"):
        RingLight(hexagonal=True, n_lamps=8)


def test_ring_light_lamps_circle_and_hexagon() -> None:
    pos, power = RingLight(radius_mm=30.0, n_lamps=12).lamps()
    assert pos.shape == (12, 3) and np.allclose(np.hypot(pos[:, 0], pos[:, 1]), 30.0)
    assert np.isclose(power.mean(), 1.0)
    hexa, _ = RingLight(radius_mm=30.0, scale=2.0, hexagonal=True, n_lamps=12).lamps()
    r = np.hypot(hexa[:, 0], hexa[:, 1])
    assert (r <= 60.0 + 1e-9).all() and (r >= 60.0 * np.cos(np.pi / 6) - 1e-9).all()
    turned, _ = RingLight(radius_mm=30.0, hexagonal=True, n_lamps=12, rotation_deg=90).lamps()
    assert not np.allclose(np.sort(turned[:, 0]), np.sort(hexa[:, 0] / 2))


def test_contact_sheet_is_written(tmp_path) -> None:
    import cv2

    from seqcore.synth.contact_sheet import make_contact_sheet

    path = make_contact_sheet(tmp_path / "sheet.png", size=64)
    sheet = cv2.imread(str(path))
    assert sheet is not None and sheet.shape[1] > 4 * 64 and sheet.shape[0] > 6 * 64
