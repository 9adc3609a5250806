"""data_root: $SEQCORE_DATA first, the checkout's ../shared/data otherwise, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from seqcore.data.data_root import ENV_VAR, data_root, default_root

REPO = Path(__file__).resolve().parents[2]


def test_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiles").mkdir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("tiles") == tmp_path / "tiles"


def test_missing_folder_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"{ENV_VAR}=.*set {ENV_VAR}") as info:
        data_root("absent")
    assert str(tmp_path / "absent") in str(info.value)


def test_checkout_default_is_beside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_root() == REPO.parent / "shared" / "data"
    if not default_root().is_dir():
        with pytest.raises(FileNotFoundError, match=f"{ENV_VAR} is not set"):
            data_root()
