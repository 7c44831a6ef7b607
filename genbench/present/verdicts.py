"""Which model is better, only when it is: the test behind the tables' best and tie marks and behind
``genbench compare``.

The rule (``RULE``, printed under every table), at the 5 % level (``ALPHA``):
- **several seeds each** (2 or more): Welch's t-test on the per-seed values (``scipy.stats.ttest_ind``,
  ``equal_var=False``); the difference's 95 % interval is Welch's (``TtestResult.confidence_interval``).
- **one seed each**: the difference of the two values' stored bootstrap replicates
  (genbench.metrics.core.bootstrap): replicate b of one minus replicate b of the other, paired on the same
  real samples when both were scored under one protocol (same protocol id: the same real images and index
  stream); its 95 % percentile interval must exclude 0. p = 2 min(P*(d <= 0), P*(d >= 0)) over the
  replicate differences d, about the smallest level at which such an interval would exclude 0 (resolution 1/B).
- anything else (one seed against several, values without replicates): no test, so the two are not shown to
  differ (a tie; the paper layout's Δ says "(untested)").

A column's best is marked only where it beats *every* other model by the rule (so it also beats the
runner-up); otherwise the best and each model not shown to differ from it are marked as tied leaders (≈).
The Δ column of the paper layout says "(within noise)" when best vs runner-up is not shown to differ.

Only two models are compared at a time, best against each other one; no correction for the several
comparisons within a column is needed, since a best mark needs every one of them to pass (an intersection-union
test), and more comparisons can only turn a mark into a tie, never the reverse. Across columns the marks are not
corrected: each column is tested at 5 % on its own, so a cell's mark does not depend on which other columns are
shown, and every table's notes say how many columns could be marked and how many chance marks to expect at most
(``marks_note``).

Many metrics at once (``genbench compare``, benchmarks/paper_claims.py): the p-values of one family are adjusted
by Holm's step-down method (``holm``; Holm 1979), which holds the chance of any false "better" in the family at
5 %, and the verdict is made on the adjusted p (``adjust``). In ``compare`` the family is the metrics compared
within one (dataset, preset) group that have a test (descriptive metrics included; untested ones left out).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from genbench.errors import GenbenchError, did_you_mean
from genbench.store.records import VALUED, direction, valued

ALPHA = 0.05
LEVEL = 1 - ALPHA
TIED = "≈"
TEST_RULE = ("at the 5% level (2+ seeds each: Welch's t-test on the per-seed values; 1 seed each: the 95% bootstrap "
             "interval of the difference, paired on shared real samples, excludes 0)")
HOLM_RULE = ("a difference is shown where its p, Holm-adjusted (Holm 1979) across its family, is below 5% (the raw p "
             "beside it; the 95% intervals are each test's own, unadjusted); each p from Welch's t-test on the "
             "per-seed values (2+ seeds each) or, 1 seed each, from the difference's bootstrap replicates d, paired "
             "on shared real samples: 2 min(P*(d <= 0), P*(d >= 0)), entered as at least 1/B, the bootstrap's "
             "resolution")
COMPARE_FAMILY = ("family: the metrics compared within one dataset and preset that have a test (descriptive ones "
                  "included, untested ones left out; --metric narrows it to that one metric)")
RULE = (f"best marked only where it beats every other model {TEST_RULE}; {TIED} = tied leaders, not shown to "
        "differ from the best")


@dataclass(frozen=True)
class Difference:
    """Model ``a`` against model ``b`` on one metric and dataset: ``diff`` = mean a - mean b."""

    a: str
    b: str
    mean_a: float
    mean_b: float
    ci: tuple[float, float] | None  # 95 % interval of diff; None when untested
    p: float | None
    method: str  # "Welch's t" | "paired bootstrap" | "bootstrap" | "" (untested)
    seeds: tuple[int, int]
    why: str = ""  # why there is no test
    replicates: int = 0  # bootstrap replicates differenced (one seed each)
    p_adj: float | None = None  # Holm-adjusted across its family (``adjust``); None: not adjusted
    family: int = 0  # how many tests the family held (``adjust``); 0: not adjusted

    @property
    def p_text(self) -> str:
        """The p-value at 3 significant digits; a bootstrap's 0 reads '< 1/B', its resolution."""
        if self.p is None:
            return "—"
        if self.p == 0 and self.replicates:
            return f"< {fmt(1 / self.replicates)}"
        return fmt(self.p)

    @property
    def p_floor(self) -> float | None:
        """The p that enters Holm: a bootstrap's 0 as 1/B, the least its B replicates can tell apart from 0."""
        if self.p is None or not self.tested or not math.isfinite(self.p):
            return None
        return max(self.p, 1 / self.replicates) if self.replicates else self.p

    @property
    def p_adj_text(self) -> str:
        """The adjusted p at 3 significant digits; '≤' where a bootstrap's 0 entered as 1/B (an upper bound)."""
        if self.p_adj is None:
            return "—"
        return ("≤ " if self.p == 0 and self.replicates else "") + fmt(self.p_adj)

    @property
    def diff(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def tested(self) -> bool:
        return self.ci is not None

    @property
    def significant(self) -> bool:
        """Shown to differ at ``ALPHA``: once adjusted (``adjust``), the Holm-adjusted p below it; else Welch's p
        below it, or the bootstrap interval excluding 0."""
        if not self.tested:
            return False
        if self.p_adj is not None:
            return self.p_adj < ALPHA
        if self.method == "Welch's t":
            return self.p is not None and self.p < ALPHA
        return self.ci[0] > 0 or self.ci[1] < 0


def _good(g: pd.DataFrame) -> pd.DataFrame:
    return valued(g).sort_values("seed", kind="stable")


def _boot(g: pd.DataFrame) -> np.ndarray | None:
    extra = g["extra"].iloc[0] if "extra" in g else None
    boot = extra.get("boot") if isinstance(extra, dict) else None
    return np.asarray(boot, np.float64) if isinstance(boot, list) and len(boot) > 1 else None


def difference(a: str, ga: pd.DataFrame, b: str, gb: pd.DataFrame) -> Difference:
    """The rule's test of model ``a`` (records ``ga``: one per seed) against ``b`` (``gb``)."""
    ga, gb = _good(ga), _good(gb)
    xa, xb = ga["value"].astype(float).to_numpy(), gb["value"].astype(float).to_numpy()
    base = dict(a=a, b=b, mean_a=float(xa.mean()), mean_b=float(xb.mean()), seeds=(len(xa), len(xb)))
    if len(xa) >= 2 and len(xb) >= 2:
        if xa.std() == 0 and xb.std() == 0:  # no spread on either side: the difference is all there is
            d = float(xa.mean() - xb.mean())
            return Difference(**base, ci=(d, d), p=1.0 if d == 0 else 0.0, method="Welch's t")
        with warnings.catch_warnings():  # scipy warns of precision loss when one side has (almost) no spread
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ttest_ind(xa, xb, equal_var=False)
            ci = res.confidence_interval(LEVEL)
        return Difference(**base, ci=(float(ci.low), float(ci.high)), p=float(res.pvalue), method="Welch's t")
    if len(xa) == 1 and len(xb) == 1:
        ra, rb = _boot(ga), _boot(gb)
        if ra is None or rb is None:
            missing = " and ".join(m for m, r in ((a, ra), (b, rb)) if r is None)
            return Difference(**base, ci=None, p=None, method="", why=f"no bootstrap replicates recorded for {missing}")
        n = min(len(ra), len(rb))
        d = ra[:n] - rb[:n]
        lo, hi = np.quantile(d, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
        p = min(1.0, 2 * min(float((d <= 0).mean()), float((d >= 0).mean())))
        paired = len(ra) == len(rb) and ga["protocol_id"].iloc[0] == gb["protocol_id"].iloc[0]
        return Difference(**base, ci=(float(lo), float(hi)), p=p, method="paired bootstrap" if paired else "bootstrap",
                          replicates=n)
    return Difference(**base, ci=None, p=None, method="",
                      why=f"{len(xa)} seed{'s' * (len(xa) != 1)} against {len(xb)}: Welch's t needs 2+ per model, "
                          f"the bootstrap 1 each")


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's (1979) step-down adjustment of ``pvalues``, in their order: the i-th smallest of the m p-values
    becomes max over j <= i of (m - j + 1) p_(j), capped at 1 (as statsmodels' multipletests(method='holm')).
    None or NaN (a metric without a test) is left out of the family and stays None; m counts the rest."""
    kept = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(kept, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (len(kept) - rank) * float(pvalues[i])))
        out[i] = running
    return out


def adjust(tests: Sequence[Difference]) -> list[Difference]:
    """``tests`` as one family: each tested one with its Holm-adjusted p (``p_adj``, from ``p_floor``) and the
    family's size, so that ``significant`` reads the adjusted p; untested ones are left out and unchanged."""
    adjusted = holm([t.p_floor for t in tests])
    size = sum(p is not None for p in adjusted)
    return [t if q is None else replace(t, p_adj=q, family=size) for t, q in zip(tests, adjusted, strict=True)]


@dataclass
class Verdict:
    """One column's marks: ``best`` (one model, shown better than every other) or ``tied`` leaders."""

    best: set[str]
    tied: set[str]
    runner_up: Difference | None  # best against the runner-up
    others: tuple[Difference, ...] = ()  # best against each other model, runner-up first

    @property
    def weakest(self) -> Difference | None:
        """The best's weakest test against the others (an untested one, else the largest p): its p is that of
        'the best beats every other one' (an intersection-union test); None with no other model."""
        untested = [t for t in self.others if not t.tested]
        return (untested or [max(self.others, key=lambda t: t.p_floor)])[0] if self.others else None

    @property
    def markable(self) -> bool:
        """Whether a best mark could have been made: the best was tested against the runner-up."""
        return self.runner_up is not None and self.runner_up.tested


def marks_note(verdicts: Sequence[Verdict | None], noun: str = "columns") -> str:
    """'best marks: 7 of 9 columns tested, 3 marked ...': how many of a table's columns (``noun``: or rows) could
    be marked best and how many were, each at 5 % and not corrected across them, and how many chance marks to
    expect at most where no model truly differs."""
    shown = [v for v in verdicts if v is not None]
    k = sum(v.markable for v in shown)
    marked = sum(bool(v.best) and v.markable for v in shown)
    return (f"best marks: {k} of {len(shown)} ranked {noun} tested (best vs runner-up), {marked} marked, each at "
            f"the 5% level, not corrected across {noun}: were no model truly different, expect at most about "
            f"0.05·{k} = {ALPHA * k:.2g} chance marks (genbench compare adjusts across metrics: Holm)")


CALIBRATION_NOTE = ("calibration rows (genbench eval --real: the dataset's own held-out images) show what a "
                    "perfect model reaches with that many images; they are not ranked")


def is_calibration(g: pd.DataFrame) -> bool:
    """Records of a calibration row: the dataset's own images scored as if they were a model."""
    return "config.source.kind" in g and bool((g["config.source.kind"] == "real").any())


def contenders(scored: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The rows that compete for best: every scored row but the calibration rows."""
    return {m: g for m, g in scored.items() if not is_calibration(g)}


def decide(cells: dict[str, pd.DataFrame], higher_is_better: bool) -> Verdict:
    """Marks for one column: ``cells`` maps each model to its records (at least one good one each)."""
    means = {m: float(_good(g)["value"].astype(float).mean()) for m, g in cells.items()}
    ranked = sorted(means, key=lambda m: -means[m] if higher_is_better else means[m])
    if not ranked:
        return Verdict(set(), set(), None)
    top = ranked[0]
    tests = {m: difference(top, cells[top], m, cells[m]) for m in ranked[1:]}
    within = {m for m, t in tests.items() if not t.significant}
    runner_up = tests[ranked[1]] if len(ranked) > 1 else None
    if within:
        return Verdict(set(), {top} | within, runner_up, tuple(tests.values()))
    return Verdict({top}, set(), runner_up, tuple(tests.values()))


# -- genbench compare ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    dataset: str
    preset: str
    metric: str
    higher_is_better: bool | None
    difference: Difference
    samples: str  # what each value was resampled from, e.g. "real 2048, generated 2048"

    @property
    def verdict(self) -> str:
        t = self.difference
        if not t.tested:
            return "not tested"
        if not t.significant:
            return "within noise"
        if self.higher_is_better is None:
            return "differ (descriptive metric)"
        a_better = (t.diff > 0) == bool(self.higher_is_better)
        return f"{t.a if a_better else t.b} better"


def _names(d: pd.DataFrame, column: str) -> str:
    return ", ".join(sorted(set(d[column]))) or "none"


def _samples(g: pd.DataFrame) -> str:
    extra = _good(g)["extra"].iloc[0] if "extra" in g else None
    n = extra.get("ci_n") if isinstance(extra, dict) else None
    return ", ".join(f"{k} {v}" for k, v in n.items()) if isinstance(n, dict) else ""


def compare(df: pd.DataFrame, a: str, b: str, metric: str | None = None,
            dataset: str | None = None) -> list[Comparison]:
    """Model ``a`` against ``b`` on every metric (or ``metric``) and dataset (or ``dataset``) where both have
    values, by the rule's test, each p Holm-adjusted within its (dataset, preset) group (``holm_by_group``).
    Raises a one-sentence GenbenchError naming what exists when a model, metric or dataset has no records, or
    the two share nothing."""
    if df.empty:
        raise GenbenchError("No records to compare; run `genbench run` first.")
    for m in (a, b):
        if m not in set(df["model"]):
            raise GenbenchError(f"No records for model '{m}'{did_you_mean(m, set(df['model']))}; models with "
                                f"records: {_names(df, 'model')}.")
    if a == b:
        raise GenbenchError(f"Compare two different models, not '{a}' with itself.")
    if dataset is not None:
        if dataset not in set(df["dataset"]):
            raise GenbenchError(f"No records for dataset '{dataset}'{did_you_mean(dataset, set(df['dataset']))}; "
                                f"datasets with records: {_names(df, 'dataset')}.")
        here = df[df["dataset"] == dataset]
        for m in (a, b):
            if m not in set(here["model"]):
                raise GenbenchError(f"Model '{m}' has no records on dataset '{dataset}'; it has records on: "
                                    f"{_names(df[df['model'] == m], 'dataset')}.")
        df = here
    good = df[df["status"].isin(VALUED) & df["value"].notna()]
    if metric is not None:
        if metric not in set(df["metric"]):
            raise GenbenchError(f"No records for metric '{metric}'{did_you_mean(metric, set(df['metric']))}; "
                                f"recorded metrics: {_names(df, 'metric')}.")
        for m in (a, b):
            mine = good[good["model"] == m]
            if metric not in set(mine["metric"]):
                raise GenbenchError(f"Model '{m}' has no value for metric '{metric}'"
                                    f"{f' on {dataset}' if dataset else ''}; its metrics with values: "
                                    f"{_names(mine, 'metric')}.")
        good = good[good["metric"] == metric]
    out = []
    keys = ["dataset", "preset", "metric"]
    for (ds, preset, met), g in good[good["model"].isin([a, b])].groupby(keys, sort=False):
        ga, gb = g[g["model"] == a], g[g["model"] == b]
        if ga.empty or gb.empty:
            continue
        out.append(Comparison(ds, preset, met, direction(g), difference(a, ga, b, gb), _samples(ga) or _samples(gb)))
    if not out:
        have = {m: good[good["model"] == m] for m in (a, b)}
        raise GenbenchError(f"'{a}' and '{b}' share no metric with values on the same dataset and preset; "
                            + "; ".join(f"'{m}' has {_names(h, 'metric')} on {_names(h, 'dataset')}"
                                        for m, h in have.items()) + ".")
    return holm_by_group(out)


def holm_by_group(rows: list[Comparison]) -> list[Comparison]:
    """``rows`` with each difference Holm-adjusted within its family: the rows of one (dataset, preset)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(rows):
        groups.setdefault((c.dataset, c.preset), []).append(i)
    out = list(rows)
    for members in groups.values():
        for i, t in zip(members, adjust([rows[i].difference for i in members]), strict=True):
            out[i] = replace(rows[i], difference=t)
    return out


def fmt(v: float | None) -> str:
    """A number at 3 significant digits (p-values, differences)."""
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.3g}"
