"""Static code analysis with Python's `ast`: code extraction, paper tags, cyclomatic complexity.

The paper asked an LLM to label each solution with algorithms and data structures from two
fixed lists; here the same lists are tagged by documented, deterministic AST heuristics (the
optional LLM judge lives in `judge.py`). Heuristics, per tag:

Algorithms
- Sorting: ``sorted(...)``/``.sort()``, a function named ``*sort*``, or an element swap
  ``a[i], a[j] = a[j], a[i]`` inside nested loops.
- Searching: the ``bisect`` module, a function named ``*search*``, or a ``while`` loop that
  computes a midpoint (``(lo + hi) // 2`` or ``>> 1``).
- String: ``ord``/``chr``, the ``re`` module, or string-only methods (replace, find,
  startswith, upper, isdigit, ...); ``split``/``strip``/``join`` do not count (everyone parses
  input with them).
- Divide and Conquer: a recursive function with two or more self-calls that halves (``// 2``).
- Greedy: built-in sorting (or a heap) followed by a pass that keeps a running best
  (``max``/``min`` or ``+=``), with no DP or recursion tag. Rough by nature.
- Dynamic Programming: ``lru_cache``/``cache`` memoisation, a container named ``dp``/``memo``
  (or containing it), or ``x[i] = f(x[i - k], ...)`` in a loop (a computed value, not a copy).
- Recursion: a function that calls itself.
- Bit Manipulation: ``& | ^ << >> ~`` (except a ``>> 1`` midpoint), ``bin()``,
  ``bit_count``/``bit_length``.
- Backtracking: a recursive function that undoes a choice around its self-call
  (``append``/``add`` then ``pop``/``remove``, or ``x[k] = True`` then ``x[k] = False``).
- Graph: names like adj/graph/edges/neighbors/indegree, or BFS (``deque`` + ``popleft`` +
  visited), or union-find (a ``find`` function over ``parent``).
- Others: parsed, but none of the above.

Data structures
- Arrays: lists (literal, comprehension, ``list()``, ``[x] * n``) or the ``array`` module.
- Linked Lists: ``.next`` attributes on nodes, or ``head`` nodes.
- Stacks: ``.pop()`` without an index on a list that is appended to, or a name with "stack".
- Queues: ``deque``, ``queue.Queue``, ``.popleft()`` or ``.pop(0)``.
- Trees: ``.left``/``.right``/``.children`` attributes, ``TreeNode``, or names
  tree/root/fenwick/segtree.
- Heaps: ``heapq``. Priority Queues: ``queue.PriorityQueue`` or ``heappush`` of a tuple.
- Hash Tables: any dict-like container (``{}``, ``dict()``, ``defaultdict``, ``Counter``,
  ``OrderedDict``). Maps: a dict used as key→value store (``d[k] = v``, ``.get``,
  ``.items``, ``.keys``, ``.values``).
- Sets: ``set()``, set literals/comprehensions, ``frozenset``.
- Others: parsed, but none of the above.

Code extraction (generated answers come wrapped in prose and markdown): take the fenced
blocks (```` ```python ```` preferred over untagged ones over other languages; an unclosed
fence at the end counts, since generations stop at max_tokens), keep the longest that parses;
without fences, the whole text if it parses, else the longest run of lines that parses.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

ALGORITHMS = (
    "Sorting", "Searching", "String", "Divide and Conquer", "Greedy", "Dynamic Programming",
    "Recursion", "Bit Manipulation", "Backtracking", "Graph", "Others",
)  # fmt: skip
DATA_STRUCTURES = (
    "Arrays", "Linked Lists", "Stacks", "Queues", "Trees", "Heaps", "Hash Tables", "Sets",
    "Maps", "Priority Queues", "Others",
)  # fmt: skip

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_STRING_METHODS = {
    "replace", "find", "rfind", "startswith", "endswith", "upper", "lower", "isalpha",
    "isdigit", "isalnum", "isupper", "islower", "isspace", "swapcase", "capitalize", "title",
    "zfill", "center", "ljust", "rjust", "translate", "maketrans", "partition", "rpartition",
    "casefold", "isnumeric",
}  # fmt: skip
_GRAPH_NAMES = re.compile(
    r"^(adj\w*|graph\w*|g|edges?|neighbou?rs?|nbrs?|indeg\w*|in_deg\w*|outdeg\w*)$", re.I
)
_BIT_OPS = (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def extract_code(text: str) -> str | None:
    """The Python program inside ``text`` (see the module docstring), or None if none parses."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if blocks:
        for wanted in (("python", "py", "python3", "py3"), ("",)):
            good = [b for lang, b in blocks if lang in wanted and b.strip() and _parses(b)]
            if good:
                return max(good, key=len).strip("\n")
        return None
    if text.strip() and _parses(text):
        return text.strip("\n")
    lines = text.splitlines()
    if len(lines) > 400:
        return None
    best: str | None = None
    for i in range(len(lines)):
        for j in range(len(lines), i, -1):
            if best is not None and j - i <= best.count("\n") + 1:
                break
            chunk = "\n".join(lines[i:j])
            if chunk.strip() and any(ch in chunk for ch in "=(:") and _parses(chunk):
                best = chunk
                break
    return best


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _names(node: ast.AST) -> Iterable[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id


def _is_midpoint(node: ast.AST) -> bool:
    """``(a + b) // 2`` or ``(a + b) >> 1`` (or ``a + (b - a) // 2``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.right, ast.Constant):
        if isinstance(node.op, ast.FloorDiv) and node.right.value == 2:
            return True
        if isinstance(node.op, ast.RShift) and node.right.value == 1:
            return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_midpoint(node.right) or _is_midpoint(node.left)
    return False


class _Facts(ast.NodeVisitor):
    """One walk collecting the facts the tag rules look at."""

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self.imports: set[str] = set()
        self.attrs: set[str] = set()
        self.names: set[str] = set()
        self.funcs: set[str] = set()
        self.recursive: set[str] = set()
        self.halving_recursive = False
        self.undo_recursive = False
        self.sort_swap = False
        self.midpoint_loop = False
        self.bit_ops = False
        self.dp_recurrence = False
        self.memo_decorator = False
        self.lists = False
        self.dicts = False
        self.dict_store = False
        self.sets = False
        self.pop_end = False
        self.append = False
        self.tuple_heappush = False
        self.running_best = False
        self.loop_depth = 0
        self._dict_names: set[str] = set()

    # -- collection ----------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        self.imports.update(a.name.split(".")[0] for a in node.names)
        self.names.update((a.asname or a.name).split(".")[0] for a in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            self.imports.add(node.module.split(".")[0])
        self.names.update(a.asname or a.name for a in node.names)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.funcs.add(node.name)
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name in {"lru_cache", "cache"}:
                self.memo_decorator = True
        self_calls = [
            c for c in ast.walk(node) if isinstance(c, ast.Call) and _call_name(c) == node.name
        ]
        if self_calls:
            self.recursive.add(node.name)
            halves = any(_is_midpoint(n) for n in ast.walk(node))
            if len(self_calls) >= 2 and halves:
                self.halving_recursive = True
            body_calls = {_call_name(c) for c in ast.walk(node) if isinstance(c, ast.Call)}
            if body_calls & {"append", "add"} and body_calls & {"pop", "remove", "discard"}:
                self.undo_recursive = True
            flags = [
                n.value.value
                for n in ast.walk(node)
                if isinstance(n, ast.Assign)
                and isinstance(n.targets[0], ast.Subscript)
                and isinstance(n.value, ast.Constant)
                and isinstance(n.value.value, bool)
            ]
            if True in flags and False in flags:
                self.undo_recursive = True
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _loop(self, node: ast.For | ast.While | ast.AsyncFor) -> None:
        self.loop_depth += 1
        if isinstance(node, ast.While) and any(_is_midpoint(n) for n in ast.walk(node)):
            self.midpoint_loop = True
        self.generic_visit(node)
        self.loop_depth -= 1

    visit_For = visit_While = visit_AsyncFor = _loop

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        self.calls.add(name)
        if name == "list":
            self.lists = True
        elif name in {"dict", "defaultdict", "Counter", "OrderedDict"}:
            self.dicts = True
        elif name in {"set", "frozenset"}:
            self.sets = True
        elif name == "pop":
            self.pop_end = self.pop_end or not node.args
            if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0:
                self.calls.add("pop0")
        elif name == "append":
            self.append = True
        elif name in {"get", "items", "keys", "values", "setdefault"}:
            self.dict_store = True
        elif name == "heappush" and len(node.args) == 2 and isinstance(node.args[1], ast.Tuple):
            self.tuple_heappush = True
        elif name in {"max", "min"} and self.loop_depth:
            self.running_best = True
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attrs.add(node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, _BIT_OPS) and not _is_midpoint(node):
            self.bit_ops = True
        if isinstance(node.op, ast.Mult) and isinstance(node.left, ast.List):
            self.lists = True
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, _BIT_OPS):
            self.bit_ops = True
        if self.loop_depth and isinstance(node.op, ast.Add | ast.Sub):
            self.running_best = True
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Invert):
            self.bit_ops = True
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        tgt = node.targets[0]
        if (
            isinstance(tgt, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(tgt.elts) == 2
            and all(isinstance(e, ast.Subscript) for e in tgt.elts + node.value.elts)
            and self.loop_depth >= 2
        ):
            self.sort_swap = True
        if isinstance(tgt, ast.Subscript) and self.loop_depth:
            base = _subscript_base(tgt)
            combines = not isinstance(node.value, ast.Subscript | ast.Name | ast.Constant)
            if base and combines and self._reads_shifted(node.value, base):
                self.dp_recurrence = True
            if base and not isinstance(tgt.slice, ast.Constant | ast.Slice):
                self.dict_store = self.dict_store or base in self._dict_names
        if isinstance(node.value, ast.Dict | ast.DictComp):
            self._dict_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def _reads_shifted(self, value: ast.AST, base: str) -> bool:
        for sub in ast.walk(value):
            if isinstance(sub, ast.Subscript) and _subscript_base(sub) == base:
                idx = sub.slice
                if isinstance(idx, ast.BinOp) and isinstance(idx.op, ast.Sub):
                    return True
        return False

    def visit_List(self, node: ast.List) -> None:
        self.lists = True
        self.generic_visit(node)

    visit_ListComp = visit_List  # type: ignore[assignment]

    def visit_Dict(self, node: ast.Dict) -> None:
        self.dicts = True
        self.generic_visit(node)

    visit_DictComp = visit_Dict  # type: ignore[assignment]

    def visit_Set(self, node: ast.Set) -> None:
        self.sets = True
        self.generic_visit(node)

    visit_SetComp = visit_Set  # type: ignore[assignment]


def _subscript_base(node: ast.Subscript) -> str:
    value = node.value
    while isinstance(value, ast.Subscript):
        value = value.value
    return value.id if isinstance(value, ast.Name) else ""


def _strip_annotations(tree: ast.AST) -> None:
    """Drop type hints in place, so that ``int | None`` is not read as a bit operation."""
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Name(id="_", ctx=ast.Load())


def _facts(tree: ast.AST) -> _Facts:
    _strip_annotations(tree)
    f = _Facts()
    f.visit(tree)
    return f


def _algorithms(f: _Facts) -> set[str]:
    tags: set[str] = set()
    lower_funcs = {n.lower() for n in f.funcs}
    if f.calls & {"sorted", "sort"} or any("sort" in n for n in lower_funcs) or f.sort_swap:
        tags.add("Sorting")
    if "bisect" in f.imports or f.calls & {"bisect_left", "bisect_right", "bisect"}:
        tags.add("Searching")
    if f.midpoint_loop or any("search" in n for n in lower_funcs):
        tags.add("Searching")
    if f.calls & ({"ord", "chr"} | _STRING_METHODS) or "re" in f.imports:
        tags.add("String")
    if f.halving_recursive:
        tags.add("Divide and Conquer")
    memo_names = any("dp" in n.lower() or "memo" in n.lower() for n in f.names)
    if f.memo_decorator or memo_names or f.dp_recurrence:
        tags.add("Dynamic Programming")
    if f.recursive:
        tags.add("Recursion")
    if f.bit_ops or f.calls & {"bin", "bit_count", "bit_length"}:
        tags.add("Bit Manipulation")
    if f.undo_recursive:
        tags.add("Backtracking")
    graph_names = any(_GRAPH_NAMES.match(n) for n in f.names | f.attrs)
    bfs = "popleft" in f.calls and any(n in f.names for n in ("visited", "seen", "dist"))
    union_find = "find" in f.funcs and any(n in f.names for n in ("parent", "par"))
    if graph_names or bfs or union_find:
        tags.add("Graph")
    builtin_sort = bool(f.calls & {"sorted", "sort"}) and not any("sort" in n for n in lower_funcs)
    ordered = builtin_sort or "heapq" in f.imports
    if ordered and f.running_best and not tags & {"Dynamic Programming", "Recursion"}:
        tags.add("Greedy")
    return tags or {"Others"}


def _data_structures(f: _Facts) -> set[str]:
    tags: set[str] = set()
    low = {n.lower() for n in f.names}
    if f.lists or "array" in f.imports:
        tags.add("Arrays")
    if "next" in f.attrs or "head" in low:
        tags.add("Linked Lists")
    if (f.pop_end and f.append) or any("stack" in n for n in low):
        tags.add("Stacks")
    if f.calls & {"deque", "Queue", "popleft", "pop0", "SimpleQueue"}:
        tags.add("Queues")
    tree_names = low & {"tree", "root", "fenwick", "segtree", "seg", "bit_tree"}
    if f.attrs & {"left", "right", "children"} or "TreeNode" in f.names or tree_names:
        tags.add("Trees")
    if "heapq" in f.imports or f.calls & {"heappush", "heappop", "heapify"}:
        tags.add("Heaps")
    if "PriorityQueue" in f.calls or f.tuple_heappush:
        tags.add("Priority Queues")
    if f.dicts:
        tags.add("Hash Tables")
        if f.dict_store:
            tags.add("Maps")
    if f.sets:
        tags.add("Sets")
    return tags or {"Others"}


def parse(code: str) -> ast.Module | None:
    """The module's AST, or None when the code is not valid Python."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def algorithm_tags(code: str) -> set[str] | None:
    """Tags from `ALGORITHMS` for a Python program; None if it does not parse."""
    tree = parse(code)
    return None if tree is None else _algorithms(_facts(tree))


def data_structure_tags(code: str) -> set[str] | None:
    """Tags from `DATA_STRUCTURES` for a Python program; None if it does not parse."""
    tree = parse(code)
    return None if tree is None else _data_structures(_facts(tree))


def cyclomatic(code: str) -> int | None:
    """McCabe complexity of the whole program: 1 + decision points (None if unparsable).

    Decision points: if/elif, conditional expressions, for/while loops, except clauses,
    each extra operand of and/or, each ``for``/``if`` inside comprehensions, match cases,
    assert.
    """
    tree = parse(code)
    if tree is None:
        return None
    n = 1
    for node in ast.walk(tree):
        if isinstance(
            node,
            ast.If
            | ast.IfExp
            | ast.For
            | ast.AsyncFor
            | ast.While
            | ast.ExceptHandler
            | ast.Assert,
        ):
            n += 1
        elif isinstance(node, ast.BoolOp):
            n += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            n += 1 + len(node.ifs)
        elif isinstance(node, ast.match_case):
            n += 1
    return n


def join_tags(tags: Iterable[str]) -> str:
    """The stored label: sorted tags joined by ';'."""
    return ";".join(sorted(tags))
