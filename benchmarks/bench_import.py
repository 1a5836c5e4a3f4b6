"""Import speed: `import_table` (DuckDB's CSV reader, set-based SQL) vs a plain Python importer.

Usage: python benchmarks/bench_import.py [ROWS [ROUNDS]]  (default 50,000 rows, 500 prompts; 3 rounds)
       python benchmarks/bench_import.py --gb 1      (a ~1 GB CSV: time, rows/s and peak RSS)

Baseline, measured in the same run: the csv module reads the file, a Python loop hashes, skips
empty and duplicate bodies and numbers the samples, each new prompt is inserted as it is met,
and the texts go into DuckDB in one batch through a pyarrow table (row-by-row `executemany` is
far slower still: ~330 rows/s here). The batched baseline reads rows as lists, inserts its
prompts in one batch too and commits like the import (written straight into the study file). All three import the same
synthetic CSV into a fresh study, in interleaved rounds (the order rotating); the script prints
seconds, rows/s and the median of the rounds' ratios, wall and CPU.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from monoscope.core.importers import ColumnMap, import_table
from monoscope.core.store import Study

WORDS = ["the", "film", "moves", "slowly", "but", "its", "actors", "feel", "alive", "and", "the", "ending", "lands", "hard", "while", "music", "hums"]


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["film_id", "film_title", "review", "stars"])
        for i in range(rows):
            key = f"f{i % 500}"
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
            w.writerow([key, f"Film {key}", body, rng.randint(1, 5)])


def baseline(study: Study, path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with study.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('base', 'text')")
        ds = cur.execute("SELECT id FROM datasets WHERE name = 'base'").fetchone()[0]  # type: ignore[index]
        ids: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        texts = []
        counter: dict[str, int] = {}
        for r in rows:
            key, body = r["film_id"], r["review"]
            h = hashlib.md5(body.encode()).hexdigest()
            if not body.strip() or (key, h) in seen:
                continue
            seen.add((key, h))
            if key not in ids:
                ids[key] = cur.execute(
                    "INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?) RETURNING id",
                    [ds, key, r["film_title"]]).fetchone()[0]  # type: ignore[index]
            idx = counter.get(key, 0)
            counter[key] = idx + 1
            texts.append((ids[key], idx, body, h, float(r["stars"])))
        cols = list(zip(*texts, strict=True))
        batch = pa.table({"prompt_id": cols[0], "sample_index": cols[1], "body": cols[2],
                          "content_hash": cols[3], "rating": cols[4]})
        cur.register("batch", batch)
        cur.execute(
            "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash, rating) "
            "SELECT prompt_id, 'source', sample_index, body, content_hash, rating FROM batch")
    return len(texts)


def baseline_batched(study: Study, path: Path) -> int:
    """The baseline made as fast as plain Python gets here: rows as lists (csv.reader, not
    DictReader: ~0.08 s less per 100k rows), prompts in one batch too (one INSERT per new key
    cost the baseline ~0.5 s of CPU per 100k rows, a quarter of its time) and the import's
    bulk commit. Printed beside the baseline."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    k_key, k_title, k_body, k_stars = (header.index(c) for c in ("film_id", "film_title", "review", "stars"))
    with study.transaction(bulk=True) as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('base', 'text')")
        ds = cur.execute("SELECT id FROM datasets WHERE name = 'base'").fetchall()[0][0]
        titles: dict[str, str] = {}
        seen: set[tuple[str, str]] = set()
        texts = []
        counter: dict[str, int] = {}
        for r in rows:
            key, body = r[k_key], r[k_body]
            h = hashlib.md5(body.encode()).hexdigest()
            if not body.strip() or (key, h) in seen:
                continue
            seen.add((key, h))
            titles.setdefault(key, r[k_title])
            idx = counter.get(key, 0)
            counter[key] = idx + 1
            texts.append((key, idx, body, h, float(r[k_stars])))
        cur.register("pbatch", pa.table({"key": list(titles), "title": list(titles.values()),
                                         "ord": range(len(titles))}))
        cur.execute("INSERT INTO prompts (dataset_id, key, title) SELECT ?, key, title FROM pbatch "
                    "ORDER BY ord", [ds])
        ids = dict(cur.execute("SELECT key, id FROM prompts WHERE dataset_id = ?", [ds]).fetchall())
        cols = list(zip(*texts, strict=True))
        batch = pa.table({"prompt_id": [ids[k] for k in cols[0]], "sample_index": cols[1],
                          "body": cols[2], "content_hash": cols[3], "rating": cols[4]})
        cur.register("batch", batch)
        cur.execute(
            "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash, rating) "
            "SELECT prompt_id, 'source', sample_index, body, content_hash, rating FROM batch")
    return len(texts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_big_csv(path: Path, rows: int) -> None:
    """The same kind of rows as `make_csv`, written by DuckDB (a 1 GB file in ~25 s, not ~4 min)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'f' || (i % 500) AS film_id, 'Film f' || (i % 500) AS film_title,
              array_to_string(list_transform(range(20 + (hash(i) % 101)::BIGINT),
                  lambda x: ({WORDS}::VARCHAR[])[1 + (hash(i * 1000 + x) % {len(WORDS)})::BIGINT]), ' ') AS review,
              1 + (hash(i, 7) % 5)::BIGINT AS stars
            FROM range({rows}) t(i) ORDER BY i) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def big(gb: float) -> None:
    """Import a CSV of about ``gb`` GB with import_table alone; memory must stay bounded."""
    rows = int(gb * 1e9 / 390)  # the synthetic rows average ~390 bytes
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "reviews.csv"
        t0 = time.perf_counter()
        # in a child process, so the peak RSS printed below is the import's alone
        subprocess.run([sys.executable, __file__, "--make", str(src), str(rows)], check=True)
        size = src.stat().st_size
        print(f"wrote {size / 1e9:.2f} GB, {rows:,} rows in {time.perf_counter() - t0:.0f} s; "
              f"peak RSS so far {peak_rss_mb():.0f} MB", flush=True)
        with Study(Path(tmp) / "big.duckdb") as st:
            t0 = time.perf_counter()
            rep = import_table(st, src, dataset="big",
                               mapping=ColumnMap.parse("key=film_id,title=film_title,text=review,rating=stars"))
            took = time.perf_counter() - t0
        db = (Path(tmp) / "big.duckdb").stat().st_size
    print(f"import_table: {rep.rows_read:,} rows read, {rep.texts:,} texts in {took:.0f} s "
          f"({rep.rows_read / took:,.0f} rows/s, {size / took / 1e6:.1f} MB/s); study {db / 1e9:.2f} GB")
    print(f"peak RSS of the process: {peak_rss_mb():.0f} MB for a {size / 1e9:.2f} GB file "
          f"(memory budget {os.environ.get('MONOSCOPE_IMPORT_MEMORY', '1GB')})")


def _timed(study_path: Path, run: Callable[[Study], int]) -> tuple[float, float, int]:
    """(wall s, CPU s, texts written) of one import into a fresh study, ending with the study
    closed, i.e. the data checkpointed into the file (import_table and the batched baseline
    checkpoint as their transaction commits; the baseline's close does the same work)."""
    st = Study(study_path)
    t0, c0 = time.perf_counter(), time.process_time()
    written = run(st)
    st.close()
    return time.perf_counter() - t0, time.process_time() - c0, written


def _ours(study: Study, src: Path) -> int:
    mapping = ColumnMap.parse("key=film_id,title=film_title,text=review,rating=stars")
    return import_table(study, src, dataset="bench", mapping=mapping).texts


def one_round(tmp: Path, src: Path, r: int) -> dict[str, tuple[float, float, int]]:
    """{side: (wall s, CPU s, texts written)} for the baseline, the batched baseline and
    import_table, in fresh studies; the order rotates from round to round, so no side always
    runs first or last."""
    sides: dict[str, Callable[[Study], int]] = {
        "base": lambda st: baseline(st, src),
        "batched": lambda st: baseline_batched(st, src),
        "ours": lambda st: _ours(st, src),
    }
    names = list(sides)
    names = names[r % 3:] + names[:r % 3]
    return {name: _timed(tmp / f"{name}{r}.duckdb", sides[name]) for name in names}


def main() -> None:
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if len(sys.argv) > 3 and sys.argv[1] == "--make":
        make_big_csv(Path(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--gb":
        big(float(sys.argv[2]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "reviews.csv"
        make_csv(src, n)
        results = [one_round(Path(tmp), src, r) for r in range(rounds)]  # interleaved rounds
    for res in results:
        assert res["base"][2] == res["batched"][2] == res["ours"][2], res
        (wb, cb, _), (wp, cp, _), (wo, co, _) = res["base"], res["batched"], res["ours"]
        print(f"  round: baseline {wb:6.2f} s (CPU {cb:5.2f}), batched baseline {wp:6.2f} s "
              f"(CPU {cp:5.2f}), import_table {wo:6.2f} s (CPU {co:5.2f}): {wb / wo:.2f}x wall, "
              f"{cb / co:.2f}x CPU ({wp / wo:.2f}x, {cp / co:.2f}x against the batched baseline)")
    print(f"rows {n:,}  texts written {results[0]['ours'][2]:,}  ({rounds} interleaved rounds)")
    labels = {"base": "baseline (csv module + Python loop + Arrow batch)",
              "batched": "batched baseline (prompts batched too, bulk commit)",
              "ours": "import_table (DuckDB read_csv + set-based SQL)"}
    for side, label in labels.items():
        best = min(res[side][0] for res in results)
        print(f"{label:53s} best {best:6.2f} s {n / best:9,.0f} rows/s; median "
              f"{statistics.median(res[side][0] for res in results):6.2f} s, CPU "
              f"{statistics.median(res[side][1] for res in results):5.2f} s")
    for side in ("base", "batched"):
        wall = statistics.median(res[side][0] / res["ours"][0] for res in results)
        cpu = statistics.median(res[side][1] / res["ours"][1] for res in results)
        print(f"speed-up over the {'batched baseline' if side == 'batched' else 'baseline'}, median "
              f"of the rounds' ratios: {wall:.2f}x wall, {cpu:.2f}x CPU time")

if __name__ == "__main__":
    main()
