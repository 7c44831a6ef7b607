"""Which of the paper's claims hold on a results folder, by genbench's significance rule (genbench.present.verdicts).

    PYTHONPATH=. .venv/bin/python benchmarks/paper_claims.py --results reference/small/runs

Prints, per dataset, one markdown table per claim; the README's and reference/README.md's findings
are read from it. The claims, as the paper makes them (docs/method.md, section 5):

1. **Samples**: ours has the best samples of the paper's eight models (Table 2). For every sample metric
   recorded (swd; in every feature space recorded, FD, KID, CMMD, FD∞ and precision/recall/density/coverage:
   fd_rand, kid_rand, fd_effnet, ...; fid, kid, isc and the Inception family where weights were there), the
   column's verdict among the eight alone
   (``verdicts.decide``: best only when it beats every other one at the 5 % level, else tied leaders).
2. **Reconstruction**: ours reconstructs best of the paper's models that reconstruct (Table 3): the same
   verdict among ours, vae, ali and alice on mse, mse_heldout (and lpips); then ours against each ablation.
3. **Interpretability**: sparsity makes parts (Table 4 and Fig. 1): sparse against dense with everything
   else equal, ours vs ours-dense and abp-sparse vs abp, on ``dissect`` (shapes, the only dataset with true
   part masks) and ``ncc`` (``verdicts.difference``: Welch's t over seeds, or the paired bootstrap for one).
4. **Copying** (not a paper claim; the first question on a 90-image dataset): each model's C_T per seed, in
   every feature space recorded (``copying`` in the random CNN's, ``copying_effnet``, ...).
   C_T averages per-cell Mann-Whitney z-scores, about N(0, 1) under "as close as fresh data" when there is
   one cell (``lfw``: 10 held-out images, one cell) and tighter with more, so a model is said to copy when
   C_T < ``COPYING_Z`` in every seed (one-sided 5 % for one cell: conservative with more cells). The cells
   that entered C_T are shown per seed: where every sample falls into one cell, C_T is that cell's z-score
   alone, and models whose samples all lie farther from the training images than every held-out image there
   read the same value, the test's ceiling (the record's ``-floor``).

Many rows, honest verdicts: in each table of claims 1-3 (one dataset and preset) the rows are one family and their
p-values are Holm-adjusted across it (``verdicts.adjust``; Holm 1979), the raw p beside the adjusted one, and the
verdict is made on the adjusted p. A claim row's p is that of "the best beats every other model", the largest p of
the best's tests against them (``Verdict.weakest``); a best at 5 % alone that Holm does not keep reads "tie after
Holm". The calibration row (``genbench eval --real heldout``) is shown beside each claim, never ranked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genbench.present import verdicts  # noqa: E402
from genbench.store.records import VALUED, Status, arrow, direction  # noqa: E402
from genbench.store.runfolder import load_records  # noqa: E402

PAPER = ("ours", "vae", "dcgan", "wgan", "coopnet", "cegan", "ali", "alice")
RECONSTRUCT = ("ours", "vae", "ali", "alice")
ABLATIONS = ("ours-dense", "abp", "abp-sparse")
SPARSE_VS_DENSE = (("ours", "ours-dense"), ("abp-sparse", "abp"))
SAMPLE_METRICS = ("swd", "fd_rand", "kid_rand", "precision_rand", "recall_rand", "density_rand", "coverage_rand",
                  "fid", "kid", "isc", "precision", "recall", "density", "coverage")  # their order; every space's next
SAMPLE_FAMILIES = ("swd", "fid", "fd", "kid", "isc", "prdc", "cmmd", "fdinf")  # metric plugins, less their _<space>
RECON_METRICS = ("mse", "mse_heldout", "lpips")
PARTS_METRICS = ("dissect", "ncc")
COPYING_Z = -1.645  # one-sided 5 % of N(0, 1)


def _good(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"].isin(VALUED) & df["value"].notna()]


def _mean_std(g: pd.DataFrame) -> str:
    x = g["value"].astype(float)
    return f"{x.mean():.4g}" + (f" ± {x.std(ddof=1):.2g}" if len(x) > 1 else "") + f" ({len(x)})"


def _calibration(d: pd.DataFrame, metric: str) -> str:
    g = d[(d["metric"] == metric)]
    g = g[[verdicts.is_calibration(g[g["model"] == m]) for m in g["model"]]] if len(g) else g
    return _mean_std(g) if len(g) else "—"


def family(plugin: str) -> str:
    """A metric plugin's family: its name less the ``_<space>`` suffix (``fd_effnet`` -> ``fd``)."""
    return str(plugin).split("_")[0]


def sample_metrics(d: pd.DataFrame) -> list[str]:
    """The sample-quality columns recorded in ``d``, in every feature space: those of ``SAMPLE_METRICS`` in its
    order, then the other spaces' in the records' order (``fd_effnet``, ``precision_effnet``, ``cmmd_rand``, ...)."""
    found = list(dict.fromkeys(d.loc[d["metric_plugin"].map(family).isin(SAMPLE_FAMILIES), "metric"]))
    return [m for m in SAMPLE_METRICS if m in found] + [m for m in found if m not in SAMPLE_METRICS]


def _column(d: pd.DataFrame, metric: str, models: tuple[str, ...], claimant: str):
    """One metric's records among ``models``, the verdict, the means and the ranking; None where the claimant has no
    value or the metric is descriptive (no better direction: nothing to claim)."""
    g = d[(d["metric"] == metric) & d["model"].isin(models)]
    if g.empty or claimant not in set(g["model"]) or (hib := direction(g)) is None:
        return None
    cells = {m: gm for m, gm in g.groupby("model", sort=False)}
    v = verdicts.decide(verdicts.contenders(cells), hib)
    means = {m: float(gm["value"].astype(float).mean()) for m, gm in cells.items()}
    return hib, cells, v, means, sorted(means, key=lambda m: -means[m] if hib else means[m])


def claim_rows(d: pd.DataFrame, metrics, models: tuple[str, ...], claimant: str = "ours") -> list[list[str]]:
    """One row per metric of a claim table: metric, the claimant's value, its rank, the leaders, the verdict, best vs
    runner-up, the p of 'the best beats every other one' raw and Holm-adjusted across the table's rows (the
    family), the calibration. The verdict is on the adjusted p: a best at 5 % alone reads as a tie after Holm."""
    columns = {m: c for m in metrics if (c := _column(d, m, models, claimant)) is not None}
    tested = [(m, t) for m, c in columns.items() if (t := c[2].weakest) is not None]
    adjusted = dict(zip([m for m, _ in tested], verdicts.adjust([t for _, t in tested]), strict=True))
    rows = []
    for metric, (hib, cells, v, means, ranked) in columns.items():
        t = adjusted.get(metric)
        shown = bool(v.best) and t is not None and t.significant
        if shown:
            lead = next(iter(v.best))
            verdict = "**holds**" if lead == claimant else f"does not hold: {lead} significantly best"
        elif v.best:
            lead = next(iter(v.best))
            verdict = f"{'tie' if lead == claimant else 'does not hold'} after Holm ({lead} best at 5% alone)"
        else:
            tied = sorted(v.tied, key=ranked.index)
            verdict = (f"tie ({claimant} among {len(tied)} tied leaders)" if claimant in tied
                       else f"does not hold: leaders {', '.join(tied)} tied, {claimant} behind")
        r = v.runner_up
        test = "" if r is None else f"{r.a} − {r.b} = {verdicts.fmt(r.diff)}, p {r.p_text} ({r.method or r.why})"
        p = "" if t is None else f"{t.p_text} / {t.p_adj_text}" if t.tested else "untested"
        top = ", ".join(f"{m} {means[m]:.4g}" for m in ranked[:3])
        rank = f"{ranked.index(claimant) + 1}/{len(ranked)}"
        rows.append([metric + arrow(hib, " "), _mean_std(cells[claimant]), rank, top, verdict, test, p,
                     _calibration(d, metric)])
    return rows


def column_verdict(d: pd.DataFrame, metric: str, models: tuple[str, ...], claimant: str = "ours") -> list[str] | None:
    """:func:`claim_rows` of one metric alone (a family of one); None where it has no row."""
    rows = claim_rows(d, [metric], models, claimant)
    return rows[0] if rows else None


def pair_rows(d: pd.DataFrame, metrics, pairs) -> list[list[str]]:
    """One row per metric and pair (a, b) that both have values of it (with a better direction): a against b, the
    p raw and Holm-adjusted across the table's rows (the family), the verdict on the adjusted p."""
    found = []
    for metric in metrics:
        for a, b in pairs:
            ga, gb = d[(d["metric"] == metric) & (d["model"] == a)], d[(d["metric"] == metric) & (d["model"] == b)]
            if not ga.empty and not gb.empty and (hib := direction(ga)) is not None:
                found.append((metric, hib, ga, gb, verdicts.difference(a, ga, b, gb)))
    rows = []
    for (metric, hib, ga, gb, _), t in zip(found, verdicts.adjust([f[4] for f in found]), strict=True):
        if not t.tested:
            verdict = f"untested ({t.why})"
        elif not t.significant:
            verdict = "within noise"
        else:
            verdict = f"**{t.a if (t.diff > 0) == hib else t.b} better**"
        ci = "" if t.ci is None else f"[{verdicts.fmt(t.ci[0])}, {verdicts.fmt(t.ci[1])}]"
        rows.append([metric + arrow(hib, " "), f"{t.a} vs {t.b}", _mean_std(ga), _mean_std(gb),
                     f"{verdicts.fmt(t.diff)} {ci}", t.p_text, t.p_adj_text, verdict])
    return rows


def _cells_used(g: pd.DataFrame) -> str:
    """Cells of the k-means partition that entered C_T, per seed ("1/6": every sample fell into one cell, where a
    value of -floor is the test's ceiling: every sample farther from the training images than every held-out
    image there, whatever the model)."""
    extras = [e if isinstance(e, dict) else {} for e in g.sort_values("seed")["extra"]]
    return ", ".join(f"{e['cells_used']}/{e['cells']}" if "cells_used" in e else "?" for e in extras)


def copying_rows(d: pd.DataFrame) -> list[list[str]]:
    rows = []
    for metric in dict.fromkeys(d.loc[d["metric_plugin"].map(family) == "copying", "metric"]):
        for model, g in d[d["metric"] == metric].groupby("model", sort=False):
            x = g.sort_values("seed")["value"].astype(float)
            calib = verdicts.is_calibration(g)
            verdict = ("calibration" if calib else "**copies**" if (x < COPYING_Z).all()
                       else "underfits (farther than fresh data)" if (x > -COPYING_Z).all()
                       else "no evidence of copying")
            rows.append([metric, model, ", ".join(f"{v:.2f}" for v in x), verdict, _cells_used(g),
                         "†" if (g["status"] == Status.WARN).any() else ""])
    return rows


def md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def balanced(d: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """The records of the seeds every (non-calibration) model has on this dataset: while a grid is under way
    one model's extra seed would leave it untested against the others (one seed against several)."""
    calibration = {m for m, g in d.groupby("model") if verdicts.is_calibration(g)}
    models = [set(g["seed"]) for m, g in d.groupby("model") if m not in calibration]
    seeds = sorted(set.intersection(*models)) if models else []
    return d[d["seed"].isin(seeds) | d["model"].isin(calibration)], seeds


def report(df: pd.DataFrame) -> str:
    out = []
    good = _good(df)
    for (dataset, preset), d in good.groupby(["dataset", "preset"], sort=False):
        d, seeds = balanced(d)
        out.append(f"## {dataset} · {preset} (seeds {', '.join(map(str, seeds))}: those every model has)\n")
        head = ["metric", "ours (mean ± std (seeds))", "ours' rank", "top three", "verdict", "best vs runner-up",
                "p best vs every other / Holm", "calibration"]
        rows = claim_rows(d, sample_metrics(d), PAPER)
        out += ["**1. Samples: ours best of the paper's eight?**\n", md(head, rows) if rows else "no records", ""]
        rows = claim_rows(d, RECON_METRICS, RECONSTRUCT)
        out += ["**2. Reconstruction: ours best of ours, vae, ali, alice?**\n",
                md(head, rows) if rows else "no records", ""]
        pair_head = ["metric", "pair", "first", "second", "difference [95 %]", "p", "Holm p", "verdict"]
        rows = pair_rows(d, RECON_METRICS, [("ours", a) for a in ABLATIONS])
        if rows:
            out += ["*ours against the ablations (reconstruction):*\n", md(pair_head, rows), ""]
        rows = pair_rows(d, PARTS_METRICS, SPARSE_VS_DENSE)
        out += ["**3. Interpretability: sparse better than dense?**\n", md(pair_head, rows) if rows else "no records",
                ""]
        rows = copying_rows(d)
        out += [f"**4. Copying (C_T per seed; copies when below {COPYING_Z} in every seed)**\n",
                md(["metric", "model", "C_T per seed", "reading", "cells used", "few held-out"], rows)
                if rows else "no records", ""]
    out.append(f"Rule: {verdicts.RULE}. Claims and pairs: {verdicts.HOLM_RULE}; family: the rows of one table (one "
               f"dataset and preset); a claim row's p is that of its best beating every other model, the largest of "
               f"the best's tests against them. {verdicts.CALIBRATION_NOTE}.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", type=Path)
    args = ap.parse_args(argv)
    df = load_records(args.results)
    if df.empty:
        print(f"no records under {args.results}", file=sys.stderr)
        return 2
    print(report(df))
    return 0


if __name__ == "__main__":
    sys.exit(main())
