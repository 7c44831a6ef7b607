"""A value that is not a finite number is never 'ok'; a malformed record or picture is skipped with one warning
naming its file, and the rest of the results folder is still tabled, compared and reported (each case crashed
or read as a number before)."""

from __future__ import annotations

import json
import math
import shutil
import warnings

import pytest
import torch
from metric_fakes import FakeGenerator, context, imageset
from test_links import RUN, trained  # noqa: F401 - the tiny trained results folder

from genbench.api import Metric, Score
from genbench.eval.evaluator import score_metrics
from genbench.registry import register_metric
from genbench.store.records import Record


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_metric_returning_a_non_finite_value_is_failed_with_the_reason(value, clean_manual_registry):
    @register_metric("broken_value")
    class Broken(Metric):
        def compute(self, ctx):
            return [Score("broken_value", value), Score("fine", 1.5)]

    ctx = context(FakeGenerator(), imageset(torch.rand(8, 3, 16, 16)))
    base = Record("shapes", "fake", "tiny", 0, metric="", status="", step=1)
    bad, fine = score_metrics(ctx, [Broken], [], base, "now")
    assert bad.status == "failed" and bad.value is None and "not a finite number" in bad.note
    assert fine.status == "ok" and fine.value == 1.5


def _poison(path, change):
    data = json.loads(path.read_text())
    change(data["records"][0])
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change", [
    lambda r: r.update(value=float("nan")),  # status ok, value NaN
    lambda r: r.update(value=float("inf")),
    lambda r: r.update(value=None),  # status ok without a value
    lambda r: r["extra"].update(boot=["a", "b"]),  # replicates that are not numbers
    lambda r: r["extra"].update(ci=[0.0, float("inf")]),
])
def test_a_malformed_record_is_skipped_and_the_rest_still_tabled_and_compared(cli, trained, tmp_path,  # noqa: F811
                                                                             change):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    other = res / "shapes" / "wgan" / "tiny-seed0"
    shutil.copytree(res.joinpath(*RUN), other)
    results = other / "results.json"
    text = results.read_text().replace('"model": "vae"', '"model": "wgan"')
    results.write_text(text)
    _poison(results, change)
    for args in (["table", "--format", "csv", "--ci"], ["compare", "vae", "wgan", "--dataset", "shapes"],
                 ["report", "--out", str(tmp_path / "rep")]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code, out, err = cli(*args, "--results", str(res))
        assert "Traceback" not in err
        assert any(str(results) in str(w.message) for w in caught), args
        if args[0] == "table":
            assert code == 0 and [line.split(",")[0] for line in out.splitlines()[1:] if line] == ["vae"]
        if args[0] == "report":
            assert code == 0 and (tmp_path / "rep" / "report.html").is_file()


@pytest.mark.parametrize("content", [b"not a picture", b"GIF89a" + b"\x00" * 40])
def test_a_picture_that_is_not_a_png_is_skipped_and_the_report_is_whole(cli, trained, tmp_path,  # noqa: F811
                                                                       content):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    res.joinpath(*RUN, "samples.png").write_bytes(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("report", "--results", str(res), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert any("samples.png" in str(w.message) and "not a PNG" in str(w.message) for w in caught)
    assert (tmp_path / "rep" / "report.html").is_file() and (tmp_path / "rep" / "report.md").is_file()
