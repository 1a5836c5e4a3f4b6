"""Sample tree: a prompt's samples as a prefix tree of their tokens (where samples collapse).

The samples of one run for one prompt, each the token ids the engine sampled, are merged on
shared prefixes: a node is a run of tokens that the same samples share, its ``count`` the
number of samples through it (the branch width), its ``entropies`` the entropy of the
sampling distribution at each of its tokens (mean over those samples; they share the prefix,
so with one prompt text they share the distribution). Identical samples make one path; samples
that differ from their first token make a fan. A reader sees that 14 of 16 samples open with
the same five words.

Labels read the sample's text: the stored pieces of older runs decoded each token alone (a
character split over tokens as U+FFFD, the end-of-generation token as its special text);
`readable_pieces` realigns them on the stored body.

Layout: a node spans ``[y0, y0 + count)`` on the vertical axis (children stacked, widest first)
and ``[depth, depth + len(tokens))`` on the horizontal one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import scores as scores_repo


@dataclass
class TreeNode:
    """A run of tokens shared by the same samples."""

    id: int
    parent: int  # -1: a child of the prompt
    depth: int  # index of its first token in the samples
    tokens: list[int]
    pieces: list[str]
    entropies: list[float]  # per token, mean over the node's samples
    samples: list[int]  # sample indices through the node
    children: list[int] = field(default_factory=list)
    y0: float = 0.0

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def mean_entropy(self) -> float:
        return float(np.mean(self.entropies)) if self.entropies else 0.0


@dataclass
class SampleTree:
    nodes: list[TreeNode]
    roots: list[int]  # the prompt's children, widest first
    n_samples: int
    depth: int  # longest sample in tokens (after ``max_depth``)
    run_id: int | None = None
    prompt_key: str | None = None
    prompts: int = 1  # distinct prompt texts among the samples (personas: more than 1)

    def leaves(self) -> list[TreeNode]:
        return [n for n in self.nodes if not n.children]

    def shared_prefix(self, share: float = 0.5) -> tuple[int, int]:
        """(tokens, samples) of the longest opening held by at least ``share`` of the samples,
        following the widest branch."""
        tokens, count = 0, self.n_samples
        kids = self.roots
        while kids:
            best = self.nodes[kids[0]]
            if best.count < share * self.n_samples:
                break
            tokens += len(best.tokens)
            count = best.count
            kids = best.children
        return tokens, count


def build_tree(samples: Sequence[tuple[int, Sequence[int], Sequence[str], Sequence[float]]],
               max_depth: int = 64) -> SampleTree:
    """The prefix tree of (sample index, tokens, pieces, entropies) records, chains of
    single-child nodes merged into one node."""
    # a trie over token ids, one node per (prefix) token
    trie_children: list[dict[int, int]] = [{}]
    trie_token: list[int] = [-1]
    trie_piece: list[str] = [""]
    trie_ent: list[list[float]] = [[]]
    trie_samples: list[list[int]] = [[]]
    depth = 0
    for idx, toks, pieces, ents in samples:
        node = 0
        trie_samples[0].append(idx)
        n = min(len(toks), max_depth)
        depth = max(depth, n)
        for j in range(n):
            t = int(toks[j])
            nxt = trie_children[node].get(t)
            if nxt is None:
                nxt = len(trie_token)
                trie_children[node][t] = nxt
                trie_children.append({})
                trie_token.append(t)
                trie_piece.append(pieces[j] if j < len(pieces) else "")
                trie_ent.append([])
                trie_samples.append([])
            trie_ent[nxt].append(float(ents[j]) if j < len(ents) else float("nan"))
            trie_samples[nxt].append(idx)
            node = nxt
    nodes: list[TreeNode] = []

    def widest(kids: dict[int, int]) -> list[int]:
        return sorted(kids.values(), key=lambda k: (-len(trie_samples[k]), trie_token[k]))

    def emit(start: int, parent: int, at: int) -> int:
        """A merged node from trie node ``start`` down its single-child chain."""
        toks, pieces, ents = [], [], []
        cur = start
        while True:
            toks.append(trie_token[cur])
            pieces.append(trie_piece[cur])
            ents.append(float(np.nanmean(trie_ent[cur])) if trie_ent[cur] else 0.0)
            kids = trie_children[cur]
            # continue while exactly one child carries every sample of this node
            if len(kids) == 1:
                (only,) = kids.values()
                if len(trie_samples[only]) == len(trie_samples[cur]):
                    cur = only
                    continue
            break
        me = TreeNode(len(nodes), parent, at, toks, pieces, ents, list(trie_samples[start]))
        nodes.append(me)
        for k in widest(trie_children[cur]):
            me.children.append(emit(k, me.id, at + len(toks)))
        return me.id

    roots = [emit(k, -1, 0) for k in widest(trie_children[0])]
    _layout(nodes, roots, 0.0)
    return SampleTree(nodes, roots, len(trie_samples[0]), depth)


def _layout(nodes: list[TreeNode], kids: list[int], y0: float) -> None:
    y = y0
    for k in kids:
        nodes[k].y0 = y
        _layout(nodes, nodes[k].children, y)
        y += nodes[k].count


END_LABEL = "⟨end⟩"  # the end-of-generation token (or tokens cut by a stop string)
_BAD = "\ufffd"


def readable_pieces(pieces: Sequence[str], body: str) -> list[str]:
    """Per token, the part of ``body`` it spells: pieces that match the body at their place are
    kept; a run that does not (U+FFFD halves of a character, special tokens) takes the body up
    to where the next clean piece matches — each its clean opening, the rest to the run's last
    token (a character split over tokens goes to its last one) — and tokens past the body's end
    read `END_LABEL`."""
    out: list[str] = []
    pos, j, n = 0, 0, len(pieces)
    while j < n:
        p = pieces[j]
        if p and _BAD not in p and body.startswith(p, pos):
            out.append(p)
            pos += len(p)
            j += 1
            continue
        if not p:
            out.append("")
            j += 1
            continue
        k = j + 1  # the run ends at the next clean piece, which spells the body from ``end``
        while k < n and (not pieces[k] or _BAD in pieces[k]):
            k += 1
        q = body.find(pieces[k], pos) if k < n else -1
        end = q if q >= 0 else len(body)
        for i in range(j, k):
            if i == k - 1:
                seg = body[pos:end]
            else:
                pre = pieces[i].split(_BAD)[0]
                seg = pre if pre and body.startswith(pre, pos) and pos + len(pre) <= end else ""
            if not seg and pos >= len(body):
                seg = END_LABEL
                out.append(seg)
                continue
            out.append(seg)
            pos += len(seg)
        j = k
    return out


def sample_tree(study: Study, dataset_id: int, prompt_key: str, run_id: int,
                max_depth: int = 64) -> SampleTree | None:
    """The tree of a run's samples of one prompt; None when the run recorded no tokens."""
    pid = datasets_repo.prompt_id(study, dataset_id, prompt_key)
    if pid is None:
        return None
    recs: list[dict[str, Any]] = scores_repo.prompt_generation_tokens(study, pid, run_id)
    if not recs:
        return None
    tree = build_tree([(r["sample_index"], r["tokens"].tolist(),
                        readable_pieces(r["pieces"], r["body"]), r["entropies"].tolist())
                       for r in recs], max_depth)
    tree.run_id, tree.prompt_key = run_id, prompt_key
    tree.prompts = len({r["prompt_text"] for r in recs})
    return tree
