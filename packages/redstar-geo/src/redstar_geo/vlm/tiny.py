"""Tiny InternVL-architecture models, built from scratch with no download.

The model is transformers' native ``InternVLForConditionalGeneration``: an InternViT-style vision
tower, pixel shuffle, the MLP projector and a Qwen2 language model - every part the real
checkpoints have, only small. The tokenizer is RedStar's tiny byte-level BPE
(:func:`redstar.tiny.train_tokenizer`, ChatML with ``{% generation %}`` markers) plus InternVL's
image tokens ``<img>``, ``</img>``, ``<IMG_CONTEXT>`` (and ``<video>``, which transformers'
processor expects), named in ``tokenizer_config.json`` the way the ``-hf`` checkpoints name them.

To stay cheap on CPU the tiles are ``image_size`` = 112 px (not 448) with the usual 14-px
patches: 8 x 8 patches, pixel-shuffled to 16 tokens per tile; ``max_tiles`` defaults to 1.
``preprocessor_config.json`` and ``processor_config.json`` are written in transformers' format,
so ``InternVLProcessor`` can load the folder where torchvision is available.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redstar_geo.vlm.inputs import IMAGENET_MEAN, IMAGENET_STD, IMG_CONTEXT, IMG_END, IMG_START
from redstar_geo.vlm.tiling import tokens_per_tile

VIDEO_TOKEN = "<video>"
NAMED_IMAGE_TOKENS = {"start_image_token": IMG_START, "end_image_token": IMG_END,
                      "context_image_token": IMG_CONTEXT, "video_token": VIDEO_TOKEN}


def build_tokenizer(out_dir: str | Path, texts: Iterable[str], vocab_size: int = 512) -> Any:
    """Train the tiny BPE on ``texts``, add InternVL's image tokens, save to ``out_dir`` and
    return the tokenizer reloaded through ``AutoTokenizer`` (as users will load it)."""
    from transformers import AutoTokenizer

    from redstar.tiny import train_tokenizer

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    tokenizer.add_special_tokens({"additional_special_tokens": list(NAMED_IMAGE_TOKENS.values())})
    tokenizer.save_pretrained(out_dir)
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["extra_special_tokens"] = dict(NAMED_IMAGE_TOKENS)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    return AutoTokenizer.from_pretrained(out_dir)


def tiny_internvl_config(tokenizer: Any, image_size: int = 112, patch_size: int = 14, vision_hidden: int = 64,
                         vision_layers: int = 2, vision_heads: int = 2, text_hidden: int = 128, text_layers: int = 4,
                         text_heads: int = 4, text_kv_heads: int = 2, max_positions: int = 1024) -> Any:
    from transformers import InternVLConfig, InternVLVisionConfig

    from redstar.tiny import tiny_config

    text = tiny_config(tokenizer, hidden_size=text_hidden, layers=text_layers, heads=text_heads,
                       kv_heads=text_kv_heads, max_positions=max_positions)
    vision = InternVLVisionConfig(hidden_size=vision_hidden, num_hidden_layers=vision_layers,
                                  num_attention_heads=vision_heads, intermediate_size=4 * vision_hidden,
                                  image_size=image_size, patch_size=patch_size)
    return InternVLConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                          image_token_id=tokenizer.convert_tokens_to_ids(IMG_CONTEXT),
                          image_seq_length=tokens_per_tile(image_size, patch_size, 0.5), downsample_ratio=0.5,
                          tie_word_embeddings=True)


def write_processor_files(out_dir: str | Path, image_size: int, patch_size: int, max_tiles: int = 1) -> None:
    """``preprocessor_config.json`` (GotOcr2 image processor settings) and
    ``processor_config.json`` (``image_seq_length``), as in the ``-hf`` checkpoints."""
    out_dir = Path(out_dir)
    preprocessor = {
        "image_processor_type": "GotOcr2ImageProcessor", "processor_class": "InternVLProcessor",
        "size": {"height": image_size, "width": image_size}, "crop_to_patches": max_tiles > 1,
        "min_patches": 1, "max_patches": max_tiles, "do_resize": True, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD), "do_convert_rgb": True, "resample": 3,
    }
    processor = {"processor_class": "InternVLProcessor",
                 "image_seq_length": tokens_per_tile(image_size, patch_size, 0.5)}
    (out_dir / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2), encoding="utf-8")
    (out_dir / "processor_config.json").write_text(json.dumps(processor, indent=2), encoding="utf-8")


def build_tiny_internvl(out_dir: str | Path, texts: Iterable[str], vocab_size: int = 512, seed: int = 0,
                        max_tiles: int = 1, **shape: Any) -> Path:
    """Build and save a randomly initialised tiny InternVL model with its tokenizer and
    processor files. ``shape`` takes the keyword arguments of :func:`tiny_internvl_config`."""
    import torch
    from transformers import GenerationConfig, InternVLForConditionalGeneration

    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(out_dir, texts, vocab_size=vocab_size)
    config = tiny_internvl_config(tokenizer, **shape)
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    model.save_pretrained(out_dir)
    write_processor_files(out_dir, config.vision_config.image_size[0], config.vision_config.patch_size[0], max_tiles)
    return out_dir
