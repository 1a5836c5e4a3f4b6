"""Read a GGUF file's header (metadata and tensor shapes) in pure Python.

We validate the magic and read the metadata ourselves before llama.cpp touches a file, so a
corrupt or non-GGUF file fails with a clear `ModelLoadError` instead of a crash in C, and so the
model registry can show architecture, quantization and size without loading any weights.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"

# llama.cpp's enum llama_ftype (include/llama.h): general.file_type -> quantization name.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0", 41: "Q2_0",
}

# GGUF value types -> struct format of one scalar (8 = string, 9 = array are handled apart).
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
    11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
# Arrays longer than this (vocabularies, merges) are summarised, not kept.
_MAX_ARRAY_KEPT = 64
# ggml tensor types -> (elements per block, bytes per block), for the size the weights need.
_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17),
}


@dataclass(frozen=True)
class GGUFInfo:
    """What the registry needs to know about a GGUF model file."""

    path: Path
    version: int
    metadata: dict[str, Any]
    n_tensors: int
    n_params: int
    arrays: dict[str, int] = field(default_factory=dict)  # long arrays: key -> length
    data_end: int = 0  # bytes the file needs to hold every tensor (0 if unknown)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        return FILE_TYPES.get(int(ft), f"type {ft}") if ft is not None else "unknown"

    @property
    def context_length(self) -> int | None:
        v = self.metadata.get(f"{self.architecture}.context_length")
        return int(v) if v is not None else None

    @property
    def chat_template(self) -> str | None:
        v = self.metadata.get("tokenizer.chat_template")
        return str(v) if v else None

    @property
    def is_chat(self) -> bool:
        """True when the file carries a chat template (instruct models); base models do not."""
        return self.chat_template is not None

    def summary(self) -> dict[str, Any]:
        """JSON-able metadata for the models table: scalars only, no chat template or vocab."""
        meta = {k: v for k, v in self.metadata.items() if k != "tokenizer.chat_template"}
        meta["gguf.version"] = self.version
        meta["gguf.n_tensors"] = self.n_tensors
        meta["gguf.arrays"] = self.arrays
        return meta


class _Reader:
    def __init__(self, buf: mmap.mmap, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ModelLoadError(
                f"{self.path} is truncated (GGUF header ends early). Download the model again."
            )
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = int(self.take("<Q"))
        if n > len(self.buf) - self.pos:
            raise ModelLoadError(f"{self.path} has a corrupt GGUF header (string length {n}).")
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = int(self.take("<Q"))
        self.pos += n

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        raise ModelLoadError(f"{self.path} has a corrupt GGUF header (value type {vtype}).")


def read_gguf(path: str | Path) -> GGUFInfo:
    """Parse the header of a GGUF file; raise ModelLoadError if it is missing or not GGUF."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelLoadError(
            f"No model file at {p}. Give a path to a .gguf file or a bundled model name "
            "(see `monoscope models`)."
        )
    with p.open("rb") as fh:
        head = fh.read(4)
        if head != GGUF_MAGIC:
            raise ModelLoadError(
                f"{p} is not a GGUF model file (it starts with {head!r}, not b'GGUF'). "
                "Monoscope runs llama.cpp models: convert or download the model as .gguf."
            )
        try:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:
            raise ModelLoadError(f"Cannot read {p}: {exc}.") from None
    try:
        info = _parse(_Reader(buf, p))
        size = len(buf)
    finally:
        buf.close()
    if info.data_end > size:
        raise ModelLoadError(
            f"{p} is truncated: its header describes {info.data_end:,} bytes of weights but the "
            f"file has {size:,}. Download the model again (an interrupted download or copy)."
        )
    return info


def _parse(r: _Reader) -> GGUFInfo:
    r.pos = 4
    version = int(r.take("<I"))
    if version not in (2, 3):
        raise ModelLoadError(
            f"{r.path} uses GGUF version {version}; this Monoscope reads versions 2 and 3. "
            "Re-convert the model with a current llama.cpp."
        )
    n_tensors = int(r.take("<Q"))
    n_kv = int(r.take("<Q"))
    if n_kv > 1_000_000 or n_tensors > 10_000_000:
        raise ModelLoadError(f"{r.path} has a corrupt GGUF header (counts {n_kv}/{n_tensors}).")
    meta: dict[str, Any] = {}
    arrays: dict[str, int] = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = int(r.take("<I"))
        if vtype != _ARRAY:
            meta[key] = r.value(vtype)
            continue
        etype = int(r.take("<I"))
        count = int(r.take("<Q"))
        if count <= _MAX_ARRAY_KEPT:
            meta[key] = [r.value(etype) for _ in range(count)]
        elif etype == _STRING:
            arrays[key] = count
            for _ in range(count):
                r.skip_string()
        elif etype in _SCALARS:
            arrays[key] = count
            r.pos += count * struct.calcsize(_SCALARS[etype])
        else:
            raise ModelLoadError(f"{r.path} has a corrupt GGUF header (array of {etype}).")
    n_params = 0
    last = (0, 0, 0)  # (offset, elements, type) of the tensor stored last
    for _ in range(n_tensors):
        r.skip_string()
        n_dims = int(r.take("<I"))
        size = 1
        for _ in range(n_dims):
            size *= int(r.take("<Q"))
        ttype = int(r.take("<I"))
        offset = int(r.take("<Q"))
        n_params += size
        if offset >= last[0]:
            last = (offset, size, ttype)
    align = int(meta.get("general.alignment") or 32)
    data_start = (r.pos + align - 1) // align * align
    block, nbytes = _BLOCKS.get(last[2], (1, 0))  # unknown type: at least its offset
    data_end = data_start + last[0] + (last[1] + block - 1) // block * nbytes if n_tensors else 0
    return GGUFInfo(r.path, version, meta, n_tensors, n_params, arrays, data_end)
