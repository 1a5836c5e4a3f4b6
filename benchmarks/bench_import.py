"""Import speed: `import_table` (DuckDB's CSV reader, set-based SQL) vs a plain Python importer.

Usage: python benchmarks/bench_import.py [ROWS]   (default 50,000 rows, 500 prompts)
       python benchmarks/bench_import.py --gb 1      (a ~1 GB CSV: time, rows/s and peak RSS)

Baseline, measured in the same run: the csv module reads the file, a Python loop hashes, skips
empty and duplicate bodies and numbers the samples, and the rows go into DuckDB in one batch
through a pyarrow table (row-by-row `executemany` is far slower still: ~330 rows/s here). Both
import the same synthetic CSV into a fresh study; the script prints seconds, rows/s and the ratio.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
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


def one_round(tmp: Path, src: Path, r: int) -> tuple[float, float, int, int, float, float]:
    """(baseline s, import_table s, texts written by each, CPU s of each) in fresh studies."""
    # both timings end with the study closed, i.e. the data checkpointed into the file
    # (import_table checkpoints as its stage ends; the baseline's close does the same work)
    st = Study(tmp / f"a{r}.duckdb")
    t0, c0 = time.perf_counter(), time.process_time()
    written_base = baseline(st, src)
    st.close()
    t_base, c_base = time.perf_counter() - t0, time.process_time() - c0
    st = Study(tmp / f"b{r}.duckdb")
    t0, c0 = time.perf_counter(), time.process_time()
    rep = import_table(st, src, dataset="bench",
                       mapping=ColumnMap.parse("key=film_id,title=film_title,text=review,rating=stars"))
    st.close()
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    return t_base, t_ours, written_base, rep.texts, c_base, c_ours


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
    for t_base, t_ours, wb, wo, c_base, c_ours in results:
        assert wb == wo, (wb, wo)
        print(f"  round: baseline {t_base:6.2f} s (CPU {c_base:5.2f}), import_table {t_ours:6.2f} s "
              f"(CPU {c_ours:5.2f}): {t_base / t_ours:.1f}x wall, {c_base / c_ours:.1f}x CPU")
    t_base = min(r[0] for r in results)
    t_ours = min(r[1] for r in results)
    print(f"rows {n:,}  texts written {results[0][3]:,}  (best of {rounds} interleaved rounds)")
    print(f"baseline (csv module + Python loop + Arrow batch): {t_base:7.2f} s  {n / t_base:10,.0f} rows/s")
    print(f"import_table (DuckDB read_csv + set-based SQL):      {t_ours:7.2f} s  {n / t_ours:10,.0f} rows/s")
    print(f"speed-up: {t_base / t_ours:.1f}x wall (best rounds), "
          f"{min(r[4] for r in results) / min(r[5] for r in results):.1f}x CPU time")


if __name__ == "__main__":
    main()
