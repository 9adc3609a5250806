"""Every "§n" reference in the sources names a numbered section of docs/design.md."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "docs" / "design.md"
SCANNED = ("python", "cpp", "cuda", "benchmarks", "tests", "scripts")
SUFFIXES = {".py", ".hpp", ".cpp", ".cu", ".cuh", ".h", ".sh", ".md", ".txt", ".cmake"}
# "docs/design.md §6", "docs/design.md §2–§4" (a range names every section in between)
REFERENCE = re.compile(r"docs/design\.md §(\d+)(?:\s*[–-]\s*§?(\d+))?")
OUT_OF_REPO = "SPEC" + " §"  # the spec that lived outside the repository (split so this file does not match)


def design_sections() -> set[int]:
    """Numbers of the "## n. Title" headings of docs/design.md."""
    return {int(m) for m in re.findall(r"^## (\d+)\. \S", DESIGN.read_text(encoding="utf-8"), re.MULTILINE)}


def scanned_files() -> list[Path]:
    """The README and every source or text file of the scanned folders."""
    files = [REPO / "README.md"]
    for folder in SCANNED:
        files += [p for p in sorted((REPO / folder).rglob("*")) if p.suffix in SUFFIXES and p.is_file()]
    return files


def references() -> list[tuple[str, int]]:
    """(file:line, section) for every reference in the scanned folders and the README."""
    found = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in REFERENCE.finditer(line):
                first = int(m.group(1))
                last = int(m.group(2) or first)
                where = f"{path.relative_to(REPO)}:{number}"
                found += [(where, n) for n in range(first, last + 1)]
    return found


def test_sections_are_numbered_without_gaps() -> None:
    sections = design_sections()
    assert sections, "docs/design.md has no numbered '## n. Title' sections"
    assert sections == set(range(1, max(sections) + 1))


def test_every_reference_resolves() -> None:
    sections = design_sections()
    found = references()
    assert len(found) > 20  # the scan sees the code's references (not vacuously true)
    missing = [f"{where} -> §{n}" for where, n in found if n not in sections]
    assert not missing, "references to sections docs/design.md lacks:\n" + "\n".join(missing)


def test_no_reference_points_outside_the_repository() -> None:
    stale = [str(p.relative_to(REPO)) for p in scanned_files()
             if OUT_OF_REPO in p.read_text(encoding="utf-8", errors="replace")]
    assert not stale, f"files citing the out-of-repo spec instead of docs/design.md: {stale}"


def test_reference_pattern() -> None:
    text = "see docs/design.md §2–§4 and docs/design.md §6, not §7 alone"
    assert [(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)] == [("2", "4"), ("6", None)]
