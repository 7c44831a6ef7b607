"""Nothing read from a results folder runs code: a crafted checkpoint is refused, never unpickled."""

from __future__ import annotations

import torch

from genbench.runfolder import CHECKPOINT


class _Evil:
    """Unpickling this calls open(path, 'w'): a file appears if the loader executes what it reads."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _craft(folder, marker):
    torch.save({"step": 1, "model": {}, "payload": _Evil(marker)}, folder / CHECKPOINT)


def test_a_crafted_checkpoint_is_refused_on_resume_and_in_tree(tmp_path, cli):
    results, marker = tmp_path / "results", tmp_path / "pwned"
    args = ("run", "--models", "ours", "--preset", "tiny", "--steps", "2", "--metrics", "swd", "--results",
            str(results), "--no-progress")
    code, _, err = cli(*args)
    assert code == 0, err
    folder = results / "shapes" / "ours" / "tiny-seed0"
    _craft(folder, marker)
    for argv in (args[:6] + ("3",) + args[7:],  # resume to step 3
                 ("tree", "--run", str(folder), "--out", str(tmp_path / "t.png")),
                 ("report", "--results", str(results), "--out", str(tmp_path / "page"))):
        code, out, err = cli(*argv)
        assert not marker.exists(), argv  # the payload never ran
        assert "Traceback" not in out + err
        if argv[0] != "report":  # the report notes the run it cannot draw and goes on
            assert code == 2 and "cannot be read" in err and CHECKPOINT in err, (argv, err)
    assert "cannot be read" in (tmp_path / "page" / "report.md").read_text()
