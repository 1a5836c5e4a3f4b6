"""Analysis subcommands: `annotate` (and, from other modules, project / measure / report).

One small function per command: ``add_<name>(sub)`` declares its arguments and
``cmd_<name>(args)`` runs it; `register` calls every ``add_`` function.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    add_annotate(sub)


# -- annotate --------------------------------------------------------------------------------
def add_annotate(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "annotate",
        help="compute embeddings, sentiment, length, topics, ... for every text",
        description=(
            "Annotate the texts of a study with attributes. Only texts without a current value "
            "are computed (values are shared between identical texts), so running it again is "
            "cheap. Default: every attribute that fits the dataset's kind."
        ),
    )
    p.add_argument("study", help="study file")
    p.add_argument("--dataset", help="only this dataset (default: all)")
    p.add_argument(
        "--attributes",
        help="comma-separated names, e.g. sentiment.vader,text.words (see --list)",
    )
    p.add_argument(
        "--backend", choices=["torch", "onnx-int8", "http"], default="torch",
        help="embedding backend: torch (exact, default), onnx-int8 (about 2x faster) or http "
             "(an OpenAI-compatible /v1/embeddings server: --embed-server URL)",
    )
    p.add_argument("--embed-server", default=None, metavar="URL",
                   help="embeddings server for --backend http (e.g. http://gpu1:8081)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the embedder (leave some free while generating)")
    p.add_argument("--topic-model", choices=["kmeans", "bertopic"], default=None,
                   help="topic model, remembered by the study (default: the study's choice, "
                        "k-means unless chosen): kmeans + c-TF-IDF, or BERTopic (the paper's; "
                        "UMAP + HDBSCAN on the stored embeddings). A change refits the topics")
    p.add_argument("--list", action="store_true", help="list the attribute names and exit")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run generated code even where the kernel sandbox (bubblewrap) is "
                        "unavailable; the values are marked '+unsafe-no-sandbox'")
    p.set_defaults(handler=cmd_annotate)


def cmd_annotate(args: argparse.Namespace) -> int:
    from monoscope.core.attributes import AnnotateRequest, annotate, extractors
    from monoscope.core.store import Study
    from monoscope.core.tasks import ConsoleState

    if args.list:
        for name, ex in extractors().items():
            needs = f"  (needs {', '.join(ex.requires)})" if ex.requires else ""
            print(f"{name:<24} v{ex.version:<20} {'/'.join(ex.kinds)}{needs}")
        return 0
    names = [n.strip() for n in args.attributes.split(",") if n.strip()] if args.attributes else None
    request = AnnotateRequest(study=args.study, dataset=args.dataset, attributes=names,
                              backend=args.backend, embed_server=args.embed_server,
                              threads=args.threads,
                              unsafe_no_sandbox=args.unsafe_no_sandbox,
                              topic_model=args.topic_model)
    with Study(args.study, create=False) as st:
        result = annotate(st, request, ConsoleState())
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    for o in result.outcomes:
        print(f"{o.dataset:<16} {o.name:<20} computed {o.computed:>7,}  from cache "
              f"{o.copied:>7,}  already done {o.already:>7,}")
    if result.computed == 0:
        print("nothing to compute: every text is annotated at the current versions")
    return 0
