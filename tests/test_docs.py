"""The documents a user reads: no unfinished text left in them, and every picture they show is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_placeholder_is_left_in_the_docs(doc):
    left = re.findall(r"\b[A-Z_]*PLACEHOLDER\b|\bTODO\b|\bTBD\b", doc.read_text())
    assert not left, f"{doc.name} still says {left}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_image_a_doc_shows_exists(doc):
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", doc.read_text())
    missing = [i for i in images if not i.startswith("http") and not (doc.parent / i).exists()]
    assert not missing, f"{doc.name} shows images that are not there: {missing}"
