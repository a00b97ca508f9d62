"""Turning chat messages with images into InternVL model inputs - without torchvision.

transformers' ``InternVLProcessor`` needs torchvision (for its video processor), which cannot be
installed beside the CPU torch of a laptop setup; OpenGVLab's original code needs it too. This
module does the same job on PIL and numpy:

1. Render the conversation with the tokenizer's chat template, writing each image part as
   InternVL's ``<image>`` placeholder (image first, then a newline, then the text - the layout
   InternVL is trained on).
2. Tile each image (:func:`redstar_geo.vlm.tiling.dynamic_tiles`) and normalize the tiles
   (rescale to [0, 1], then ImageNet mean/std, which InternVL uses).
3. Replace each placeholder with ``<img>`` + ``<IMG_CONTEXT>`` x (tokens per tile x tiles) +
   ``</img>``; the model swaps the ``<IMG_CONTEXT>`` embeddings for the image features in order.

:class:`ImageSettings` reads the image geometry from a checkpoint: transformers' native format
(``config.json`` of model type ``internvl`` + ``preprocessor_config.json``) or OpenGVLab's original
remote-code format (model type ``internvl_chat``: ``force_image_size``, ``max_dynamic_patch``,
``use_thumbnail``...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from redstar.samplers.text import opened_reasoning
from redstar_geo.images import load_rgb
from redstar_geo.vlm.tiling import dynamic_tiles, tokens_per_tile

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_PLACEHOLDER = "<image>"
IMG_START, IMG_END, IMG_CONTEXT = "<img>", "</img>", "<IMG_CONTEXT>"
#: Used when a tokenizer has no chat template: InternVL2's ``internlm2-chat`` and Qwen's format.
CHATML_TEMPLATE = (
    "{%- for message in messages -%}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{%- endfor -%}{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
)
#: Label value ignored by the loss (PyTorch's cross-entropy default).
IGNORE_INDEX = -100


@dataclass
class ImageSettings:
    """How a checkpoint sees images. ``max_tiles=1`` turns dynamic tiling off."""

    image_size: int = 448
    patch_size: int = 14
    downsample_ratio: float = 0.5
    min_tiles: int = 1
    max_tiles: int = 12
    use_thumbnail: bool = True
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @property
    def tokens_per_tile(self) -> int:
        return tokens_per_tile(self.image_size, self.patch_size, self.downsample_ratio)

    @classmethod
    def from_configs(cls, config: dict[str, Any], preprocessor: dict[str, Any] | None = None) -> ImageSettings:
        """Settings from a parsed ``config.json`` and, for native checkpoints, the parsed
        ``preprocessor_config.json``."""
        model_type = config.get("model_type")
        vision = config.get("vision_config") or {}
        if model_type == "internvl":
            size = _first(vision.get("image_size", 448))
            settings = cls(image_size=size, patch_size=_first(vision.get("patch_size", 14)),
                           downsample_ratio=float(config.get("downsample_ratio", 0.5)))
            if preprocessor:
                settings.image_size = int((preprocessor.get("size") or {}).get("height", settings.image_size))
                crop = bool(preprocessor.get("crop_to_patches", True))
                settings.min_tiles = int(preprocessor.get("min_patches", 1))
                settings.max_tiles = int(preprocessor.get("max_patches", 12)) if crop else 1
                settings.mean = tuple(preprocessor.get("image_mean", IMAGENET_MEAN))
                settings.std = tuple(preprocessor.get("image_std", IMAGENET_STD))
            expected = config.get("image_seq_length")
            if expected is not None and expected != settings.tokens_per_tile:
                raise ValueError(f"config image_seq_length {expected} disagrees with {settings.tokens_per_tile} "
                                 f"tokens per tile computed from the vision settings")
            return settings
        if model_type == "internvl_chat":
            size = config.get("force_image_size") or _first(vision.get("image_size", 448))
            dynamic = bool(config.get("dynamic_image_size", True))
            return cls(image_size=int(size), patch_size=_first(vision.get("patch_size", 14)),
                       downsample_ratio=float(config.get("downsample_ratio", 0.5)),
                       min_tiles=int(config.get("min_dynamic_patch", 1)),
                       max_tiles=int(config.get("max_dynamic_patch", 12)) if dynamic else 1,
                       use_thumbnail=bool(config.get("use_thumbnail", True)))
        raise ValueError(f"model type {model_type!r} is not InternVL (expected 'internvl' or 'internvl_chat')")

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> ImageSettings:
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pre = folder / "preprocessor_config.json"
        preprocessor = json.loads(pre.read_text(encoding="utf-8")) if pre.exists() else None
        return cls.from_configs(config, preprocessor)


def _first(value: Any) -> int:
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def normalize_tiles(tiles: Sequence[Image.Image], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(tiles, 3, H, W) float32: pixels / 255, minus mean, over std, per channel."""
    scaled = np.stack([np.asarray(tile.convert("RGB"), dtype=np.float32) for tile in tiles]) / 255.0
    normalized = (scaled - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return normalized.transpose(0, 3, 1, 2).copy()


@dataclass
class Encoded:
    """One conversation ready for the model. ``labels`` is set for training examples only;
    ``tiles_per_image`` lists how many tiles each image became; ``opening`` is the reasoning
    opening a generation prompt ends with (``"<think>\n"`` for R1-style templates, else ``""``:
    :func:`~redstar.samplers.text.opened_reasoning`), which the sampler puts back in front of
    the response."""

    input_ids: list[int]
    pixel_values: np.ndarray | None
    labels: list[int] | None = None
    tiles_per_image: list[int] = field(default_factory=list)
    opening: str = ""


class InternVLInputs:
    """Builds :class:`Encoded` inputs for one checkpoint's tokenizer and image settings."""

    def __init__(self, tokenizer: Any, settings: ImageSettings) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        # transformers' InternVL tokenizers name their image tokens; the originals use these strings.
        self.img_start = getattr(tokenizer, "start_image_token", None) or IMG_START
        self.img_end = getattr(tokenizer, "end_image_token", None) or IMG_END
        self.img_context = getattr(tokenizer, "context_image_token", None) or IMG_CONTEXT
        self.context_id = tokenizer.convert_tokens_to_ids(self.img_context)
        if self.context_id is None or self.context_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {self.img_context} token; it is not an InternVL tokenizer")
        self.template = tokenizer.chat_template or CHATML_TEMPLATE

    # -- text -----------------------------------------------------------------------------------
    def flatten(self, messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, str]], list[Image.Image]]:
        """Messages with string content (image parts as ``<image>\\n``) and the images in order."""
        flat, images = [], []
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                flat.append({"role": message["role"], "content": content})
                continue
            pieces = []
            for part in content or []:
                kind = part.get("type")
                if kind == "image":
                    images.append(_open_image(part))
                    pieces.append(IMAGE_PLACEHOLDER + "\n")
                elif kind == "text":
                    pieces.append(part.get("text", ""))
                else:
                    raise ValueError(f"unsupported content part type {kind!r} (InternVL takes 'image' and 'text')")
            flat.append({"role": message["role"], "content": "".join(pieces)})
        return flat, images

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(list(messages), chat_template=self.template, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def image_tokens(self, tiles: int) -> str:
        return self.img_start + self.img_context * (self.settings.tokens_per_tile * tiles) + self.img_end

    def expand(self, text: str, tiles_per_image: Sequence[int]) -> str:
        """Replace the n-th ``<image>`` with the n-th image's token run."""
        parts = text.split(IMAGE_PLACEHOLDER)
        if len(parts) - 1 != len(tiles_per_image):
            raise ValueError(f"the rendered conversation has {len(parts) - 1} image placeholders "
                             f"for {len(tiles_per_image)} images")
        out = [parts[0]]
        for tiles, tail in zip(tiles_per_image, parts[1:]):
            out += [self.image_tokens(tiles), tail]
        return "".join(out)

    def tokenize(self, text: str, first: bool) -> list[int]:
        bos = self.tokenizer.bos_token
        # Templates that write the BOS themselves must not get a second one.
        add = first and not (bos and text.startswith(bos))
        return self.tokenizer(text, add_special_tokens=add)["input_ids"]

    # -- images ---------------------------------------------------------------------------------
    def pixels(self, images: Sequence[Image.Image]) -> tuple[np.ndarray | None, list[int]]:
        if not images:
            return None, []
        s = self.settings
        tiles, counts = [], []
        for image in images:
            cut = dynamic_tiles(image, s.image_size, s.min_tiles, s.max_tiles, s.use_thumbnail)
            tiles += cut
            counts.append(len(cut))
        return normalize_tiles(tiles, s.mean, s.std), counts

    # -- whole examples -------------------------------------------------------------------------
    def encode_prompt(self, messages: Sequence[dict[str, Any]]) -> Encoded:
        """A conversation to continue (generation prompt appended)."""
        flat, images = self.flatten(messages)
        pixels, counts = self.pixels(images)
        rendered = self.render(flat, add_generation_prompt=True)
        text = self.expand(rendered, counts)
        return Encoded(self.tokenize(text, first=True), pixels, None, counts, opened_reasoning(rendered))

    def encode_example(self, messages: Sequence[dict[str, Any]], max_length: int | None = None) -> Encoded:
        """A training example: every turn before the last is context; the last turn (the
        assistant's) is what the loss is computed on. Past ``max_length`` the response is
        truncated; a prompt that alone exceeds it is an error, because cutting it would cut
        image tokens away from their image."""
        if not messages or messages[-1].get("role") != "assistant":
            raise ValueError("the last message must be the assistant's response")
        flat, images = self.flatten(messages)
        pixels, counts = self.pixels(images)
        prompt_text = self.render(flat[:-1], add_generation_prompt=True)
        full_text = self.render(flat, add_generation_prompt=False)
        if not full_text.startswith(prompt_text):
            raise ValueError("the chat template does not render the prompt as a prefix of the full conversation")
        prompt_ids = self.tokenize(self.expand(prompt_text, counts), first=True)
        response_ids = self.tokenize(full_text[len(prompt_text):], first=False)
        if max_length is not None:
            if len(prompt_ids) >= max_length:
                raise ValueError(f"the prompt alone is {len(prompt_ids)} tokens (with image tokens), "
                                 f"over max_length {max_length}")
            response_ids = response_ids[: max_length - len(prompt_ids)]
        return Encoded(prompt_ids + response_ids, pixels, [IGNORE_INDEX] * len(prompt_ids) + response_ids, counts)


def _open_image(part: dict[str, Any]) -> Image.Image:
    if isinstance(part.get("image"), Image.Image):
        return part["image"].convert("RGB")
    path = part.get("path") or part.get("image")
    if not isinstance(path, (str, Path)):
        raise ValueError("an image part needs a 'path' (or a PIL image under 'image')")
    return load_rgb(path)
