"""The record's vocabulary the tables read: its status (which ones carry a value) and a metric's direction and
arrow, each decided in one place (genbench.store.records)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from record_files import load_records, write_run

from genbench.store.records import VALUED, Record, Status, arrow, direction, has_value, records_frame, valued


def _record(status, value=None, hib=False) -> Record:
    return Record("shapes", "ours", "small", 0, "swd", status, value, "swd", higher_is_better=hib)


def test_only_ok_and_warn_carry_a_value():
    assert [s for s in Status if s.has_value] == [Status.OK, Status.WARN] == list(VALUED)
    assert [s.value for s in Status] == ["ok", "warn", "n/a", "unavailable", "error", "failed"]
    assert has_value("ok") and has_value(Status.WARN) and not has_value("n/a") and not has_value("finished")
    assert not has_value("") and not Status("n/a").has_value and Status("warn").has_value
    assert _record(Status.WARN, 1.0).good and _record("ok", 1.0).good and not _record(Status.FAILED).good
    assert not _record("unavailable").good


def test_a_status_is_its_string():
    assert Status.NA == "n/a" and str(Status.NA) == "n/a" and f"{Status.UNAVAILABLE}" == "unavailable"
    assert f"{Status.NA:>5}|{Status.OK!s}" == "  n/a|ok" and "{}|{:<5}|".format(Status.WARN, Status.OK) == "warn|ok   |"  # noqa: UP032
    assert {"ok": 1}[Status.OK] == 1 and "/".join(sorted({Status.NA, "error"})) == "error/n/a"
    with pytest.raises(ValueError):
        Status("finished")


def test_records_with_a_status_or_its_string_read_the_same(tmp_path):
    typed = [_record(Status.OK, 1.0), _record(Status.WARN, 2.0), _record(Status.NA)]
    plain = [_record("ok", 1.0), _record("warn", 2.0), _record("n/a")]
    assert [json.dumps(r.to_dict()) for r in typed] == [json.dumps(r.to_dict()) for r in plain]
    a, b = records_frame(typed), records_frame(plain)
    pd.testing.assert_frame_equal(a, b)
    assert a.to_csv() == b.to_csv() and (a["status"] == Status.WARN).tolist() == [False, True, False]
    assert valued(a)["value"].tolist() == [1.0, 2.0] and a["status"].isin(VALUED).tolist() == [True, True, False]
    write_run(tmp_path / "shapes" / "ours" / "small-seed0", {}, [r.to_dict() for r in typed])
    read = load_records(tmp_path)
    assert read["status"].tolist() == ["ok", "warn", "n/a"] and valued(read)["value"].tolist() == [1.0, 2.0]
    assert json.loads((tmp_path / "shapes" / "ours" / "small-seed0" / "results.json").read_text())[
        "records"][2]["status"] == "n/a"


def test_direction_is_the_first_recorded_one():
    frame = records_frame([_record("n/a", hib=None), _record("ok", 1.0, hib=True), _record("ok", 2.0, hib=False)])
    assert direction(frame) is True
    assert direction(records_frame([_record("ok", 1.0, hib=False)])) is False
    assert direction(records_frame([_record("ok", 1.0, hib=None)])) is None
    assert direction(frame[:0]) is None


def test_arrow():
    assert arrow(True) == "↑" and arrow(False) == "↓" and arrow(None) == ""
    assert "swd" + arrow(False, " ") == "swd ↓" and "ncc" + arrow(True, " ") == "ncc ↑"
    assert "sparsity_b8" + arrow(None, " ") == "sparsity_b8"
