"""Names are names: a row name is never a path, and text from a file never acts on a terminal, in LaTeX or in a
spreadsheet (each case failed before)."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest
from test_bad_input import refused
from test_links import RUN, trained  # noqa: F401 - the tiny trained results folder

from genbench.io import printable, spreadsheet_safe

EVAL = ["--preset", "tiny", "--device", "cpu", "--metrics", "swd"]


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", ".hidden", "", "x\x1b[2J", "-x", "a" * 65])
def test_a_name_that_is_not_a_row_name_is_refused(cli, tmp_path, name):
    np.savez(tmp_path / "img.npz", x=np.zeros((8, 16, 16, 3), np.uint8))
    res = tmp_path / "res"
    err = refused(*cli("eval", "--images", str(tmp_path / "img.npz"), "--name", name, "--results", str(res), *EVAL),
                  "--name", "is not a row name")
    assert "\x1b" not in err and not res.exists() and not (tmp_path.parent / "x").exists()


def test_a_default_name_is_the_folder_the_path_names(cli, tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "my pics"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((16, 16, 3), i * 30, np.uint8)).save(folder / f"{i}.png")
    monkeypatch.chdir(folder)
    res = tmp_path / "res"
    assert cli("eval", "--images", ".", "--results", str(res), *EVAL)[0] == 0
    assert cli("eval", "--images", "../my pics/../my pics", "--name", "again", "--results", str(res), *EVAL)[0] == 0
    names = sorted(p.name for p in (res / "shapes").iterdir())
    assert names[0] == "again" and names[1].startswith("my_pics-")  # '.' names its folder, reduced to the rule


def test_text_from_files_never_acts_on_terminal_latex_or_spreadsheet(cli, trained, tmp_path):  # noqa: F811
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    evil = res / "shapes" / "evil" / "tiny-seed0"
    shutil.copytree(res.joinpath(*RUN), evil)
    data = json.loads((evil / "results.json").read_text())
    for r in data["records"]:
        r["model"] = "=HYPERLINK(\"http://x\")\x1b]0;owned\x07\x1b[2J"
        r["note"] = "line\n\\input{/etc/passwd}"
        r["status"] = "warn"  # the note is shown under the table
    (evil / "results.json").write_text(json.dumps(data))
    for fmt in ("rich", "md", "csv", "latex"):
        code, out, err = cli("table", "--results", str(res), "--format", fmt)
        assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err, fmt
        if fmt == "csv":
            names = [row[0] for row in csv.reader(io.StringIO(out)) if row][1:]
            assert "vae" in names and any(n.startswith("'=HYPERLINK") for n in names)
            assert not any(n.startswith("=") for n in names)
        if fmt == "latex":
            assert not [line for line in out.splitlines() if line.startswith("\\input")]
    code, out, err = cli("compare", "vae", "=HYPERLINK(\"http://x\")\\x1b]0;owned\\x07\\x1b[2J", "--dataset", "shapes",
                         "--results", str(res))
    assert "\x1b" not in out + err


def test_printable_and_spreadsheet_safe():
    assert printable("ok name") == "ok name" and printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("tab\tand\nnewline") == "tab\tand\nnewline" and printable("\udcff") == "\\udcff"
    assert [spreadsheet_safe(c) for c in ("=1+1", "+cmd", "@SUM(A1)", "-x", "-0.5 ± 0.1", "-.5", "-", "vae")] == [
        "'=1+1", "'+cmd", "'@SUM(A1)", "'-x", "-0.5 ± 0.1", "-.5", "-", "vae"]
