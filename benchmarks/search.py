"""Full-text search options on the films demo (10,314 human texts, ~111 characters each), all
offline with what the environment holds (DuckDB's `fts` extension cannot be installed on 2.0.x).

Usage:
    python benchmarks/search.py [--study /tmp/films.duckdb] [--scale 1] [--repeat 7]

Imports the films demo into ``--study`` (once), optionally multiplies its texts (``--scale k``:
k copies of every text, each copy's body repeated, to see how each option grows with the
collection and with text length), then times the median of ``--repeat`` queries of 1 and 2
words over the whole dataset for:

- `ilike`: ``body ILIKE '%word%'`` (substring, no word boundary, no ranking);
- `regexp`: a word-boundary ``regexp_matches`` (matches only, no ranking);
- `scan+bm25`: what the app uses (`monoscope.core.store.search.text_matches`): substring
  prefilter, candidates split into words, BM25 in one SQL query;
- `index`: an inverted index table (text_id, word, tf) built in SQL, then BM25 by a join
  (build time printed separately; it must be rebuilt or extended after every import and run);
- `python`: bodies read once into a Python dict inverted index (build + query).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

QUERIES = ["funny", "great", "story", "boring plot", "the film"]


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default="/tmp/search-bench.duckdb")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    from monoscope.core.importers import import_demo
    from monoscope.core.store import Study
    from monoscope.core.store import search as repo
    from monoscope.core.tasks import TaskState
    from monoscope.testing import raw_connection

    path = Path(args.study)
    if args.scale > 1:
        path = path.with_name(f"{path.stem}-x{args.scale}{path.suffix}")
    with Study(path) as st:
        import_demo(st, "films", TaskState())
        con = raw_connection(st)
        ds = int(con.execute("SELECT id FROM datasets WHERE name = 'films'").fetchone()[0])  # type: ignore[index]
        n = int(con.execute("SELECT count(*) FROM texts").fetchone()[0])  # type: ignore[index]
        if args.scale > 1 and n < 10_314 * args.scale:
            con.execute(f"""INSERT INTO texts (prompt_id, origin, run_id, sample_index, body,
                            content_hash)
                            SELECT prompt_id, origin, run_id, sample_index + 1000 * k,
                                   repeat(body || ' ', {args.scale}) || k, md5(body || k)
                            FROM texts, range(1, {args.scale}) r(k)""")
        n, avg = con.execute("SELECT count(*), avg(length(body)) FROM texts").fetchone()  # type: ignore[misc]
        print(f"{n:,} texts, {avg:.0f} characters on average")

        def ilike(q: str) -> int:
            where = " AND ".join(f"body ILIKE '%{w}%'" for w in q.split())
            return len(con.execute(f"SELECT id FROM texts WHERE {where}").fetchall())

        def regexp(q: str) -> int:
            where = " AND ".join(
                f"regexp_matches(lower(body), '(^|[^\\pL\\pN_]){w}([^\\pL\\pN_]|$)')"
                for w in q.split())
            return len(con.execute(f"SELECT id FROM texts WHERE {where}").fetchall())

        def scan(q: str) -> int:
            return len(repo.text_matches(st, ds, None, q.split())[0])

        t0 = time.perf_counter()
        con.execute("DROP TABLE IF EXISTS bench_terms")
        con.execute(f"""CREATE TEMP TABLE bench_terms AS
            SELECT id AS text_id, w, count(*) AS tf FROM (
              SELECT id, unnest(regexp_split_to_array(lower(body), '{repo.WORD_SPLIT}')) AS w
              FROM texts) WHERE w <> '' GROUP BY ALL""")
        con.execute("CREATE TEMP TABLE bench_len AS SELECT id AS text_id, length(body) AS dl "
                    "FROM texts")
        build_ms = (time.perf_counter() - t0) * 1000

        def index(q: str) -> int:
            terms = q.split()
            return len(con.execute("""
                WITH s AS (SELECT count(*) AS n, avg(dl) AS avgdl FROM bench_len),
                hit AS (SELECT * FROM bench_terms WHERE w IN (SELECT unnest(?::VARCHAR[]))),
                df AS (SELECT w, count(*) AS df FROM hit GROUP BY w)
                SELECT hit.text_id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * hit.tf
                    * 2.2 / (hit.tf + 1.2 * (0.25 + 0.75 * l.dl / s.avgdl))) AS score
                FROM hit JOIN df USING (w) JOIN bench_len l USING (text_id) CROSS JOIN s
                GROUP BY hit.text_id HAVING count(*) = ? ORDER BY score DESC""",
                [terms, len(terms)]).fetchall())

        t0 = time.perf_counter()
        rows = con.execute("SELECT id, body FROM texts").fetchall()
        inv: dict[str, dict[int, int]] = defaultdict(dict)
        for tid, body in rows:
            for w, c in Counter(re.findall(r"\w+", body.lower())).items():
                inv[w][tid] = c
        py_build_ms = (time.perf_counter() - t0) * 1000

        def python(q: str) -> int:
            sets = [set(inv.get(w, {})) for w in q.split()]
            return len(set.intersection(*sets)) if sets else 0

        print(f"index build (SQL temp table): {build_ms:.0f} ms; python dict build: "
              f"{py_build_ms:.0f} ms")
        print(f"{'query':<12} {'hits':>6} " + " ".join(f"{k:>10}" for k in
              ("ilike", "regexp", "scan+bm25", "index", "python")) + "   (median ms)")
        for q in QUERIES:
            counts = (scan(q), index(q), python(q))
            assert len(set(counts)) == 1, (q, counts)  # the three word matchers agree
            ms = [_median_ms(lambda f=f, q=q: f(q), args.repeat)  # type: ignore[misc]
                  for f in (ilike, regexp, scan, index, python)]
            print(f"{q:<12} {counts[0]:>6} " + " ".join(f"{m:>10.1f}" for m in ms))


if __name__ == "__main__":
    main()
