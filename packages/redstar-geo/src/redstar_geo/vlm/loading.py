"""Loading an InternVL checkpoint: transformers' native format or OpenGVLab's remote-code one.

- **Native** (``config.json`` model type ``internvl``; ``OpenGVLab/InternVL3-1B-hf`` and the
  other ``-hf`` repositories, and the embedded tiny models): ``InternVLForConditionalGeneration``.
- **Original** (model type ``internvl_chat``; ``OpenGVLab/InternVL2-8B``, the model the RedStar
  paper trains): the repository's own modelling code with an InternLM2 backbone, loaded with
  ``trust_remote_code=True``. That code imports timm and einops - install
  ``redstar-geo[internvl2]``. It is supported as the original ``chat()`` uses it (the
  ``<IMG_CONTEXT>`` id set on the model, ``generate(pixel_values=..., input_ids=...)``) but was
  not run in RedStar's CI, which has no timm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError
from redstar.models import resolve_model
from redstar_geo.vlm.inputs import ImageSettings, InternVLInputs

NATIVE, REMOTE = "internvl", "internvl_chat"
DTYPES = ("float32", "bfloat16", "float16")
#: Files a saved model needs besides weights and tokenizer, copied over when fine-tuning.
SIDE_FILES = ("preprocessor_config.json", "processor_config.json", "chat_template.jinja", "chat_template.json",
              "video_preprocessor_config.json")


@dataclass
class LoadedVLM:
    model: Any
    tokenizer: Any
    inputs: InternVLInputs
    kind: str  # NATIVE or REMOTE
    path: str  # local folder the files were read from


def local_folder(spec: str) -> Path:
    """A local folder with the checkpoint's files: the folder itself, or the hub snapshot
    (downloaded by huggingface_hub only when ``spec`` is a hub id not yet in the cache)."""
    resolved = resolve_model(spec)
    path = Path(resolved)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(resolved))


def model_type(folder: Path) -> str:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    kind = config.get("model_type")
    if kind not in (NATIVE, REMOTE):
        raise RedStarError(f"{folder} is a {kind!r} model; the internvl sampler and vlm-sft trainer take InternVL "
                           "checkpoints (model type 'internvl' or 'internvl_chat')")
    return kind


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    """``auto``: bf16 on a GPU that supports it, else fp32 (bf16 on CPU is about 24x slower)."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in DTYPES:
        raise RedStarError(f"dtype must be auto or one of {', '.join(DTYPES)}, got {dtype!r}")
    return getattr(torch, dtype)


def _require_remote_code_deps() -> None:
    missing = []
    for module in ("timm", "einops"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
        except Exception as exc:  # timm imports torchvision, which fails beside a mismatched torch
            missing.append(f"{module} ({type(exc).__name__}: {exc})")
    if missing:
        raise MissingDependencyError(
            f"original InternVL2 checkpoints run the repository's code, which needs {', '.join(missing)}: "
            "pip install 'redstar-geo[internvl2]' (timm needs a torchvision that matches your torch)"
        )


def load_vlm(spec: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
             max_tiles: int | None = None, attn_implementation: str | None = None) -> LoadedVLM:
    """Load model, tokenizer and input builder for an InternVL checkpoint (path, hub id or
    ``embedded:NAME``). ``max_tiles`` overrides the checkpoint's tile limit."""
    from transformers import AutoTokenizer

    folder = local_folder(spec)
    kind = model_type(folder)
    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device)
    # Only when set: remote-code checkpoints get the key only if the caller chose a kernel.
    extra: dict[str, Any] = {"attn_implementation": attn_implementation} if attn_implementation else {}
    if kind == NATIVE:
        from transformers import InternVLForConditionalGeneration

        model = InternVLForConditionalGeneration.from_pretrained(folder, dtype=torch_dtype, **extra)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    else:
        if not trust_remote_code:
            raise RedStarError(f"{spec} is an original InternVL2 checkpoint that runs its own code: pass "
                               "trust_remote_code=True (and install redstar-geo[internvl2])")
        _require_remote_code_deps()
        from transformers import AutoModel

        model = AutoModel.from_pretrained(folder, dtype=torch_dtype, trust_remote_code=True, **extra)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True, use_fast=False)
    settings = ImageSettings.from_pretrained(folder)
    if max_tiles is not None:
        settings.max_tiles = max_tiles
    inputs = InternVLInputs(tokenizer, settings)
    if kind == NATIVE and model.config.image_token_id != inputs.context_id:
        raise RedStarError(f"{spec}: config image_token_id {model.config.image_token_id} is not the tokenizer's "
                           f"{inputs.img_context} id {inputs.context_id}")
    if kind == REMOTE:
        model.img_context_token_id = inputs.context_id
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    # transformers wraps `to` with functools.wraps(nn.Module.to); typeshed's _Wrapped does not bind self.
    model.to(device)  # type: ignore[arg-type]
    return LoadedVLM(model, tokenizer, inputs, kind, str(folder))


def stop_token_ids(loaded: LoadedVLM) -> list[int]:
    """Token ids that end a response: the generation config's EOS, the tokenizer's, and
    ``<|im_end|>`` (InternVL2's chat format ends turns with it while its EOS is ``</s>``)."""
    ids: list[int] = []
    configured = getattr(getattr(loaded.model, "generation_config", None), "eos_token_id", None)
    for value in (configured if isinstance(configured, list) else [configured]) + [loaded.tokenizer.eos_token_id]:
        if isinstance(value, int) and value not in ids:
            ids.append(value)
    im_end = loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != loaded.tokenizer.unk_token_id and im_end not in ids:
        ids.append(im_end)
    return ids
