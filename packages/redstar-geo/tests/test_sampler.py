import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from redstar.errors import RedStarError
from redstar.interfaces import SamplingParams
from redstar_geo.sampler import InternVLSampler
from redstar_geo.verifier import GeoVerifier


@pytest.fixture(scope="module")
def sampler(tiny_vlm):
    sampler = InternVLSampler(str(tiny_vlm), device="cpu", batch_size=4)
    yield sampler
    sampler.close()


def test_n_samples_per_image_conversation(sampler, synthetic_prompts):
    conversations = [GeoVerifier().messages(p) for p in synthetic_prompts[:3]]
    out = sampler.generate(conversations, SamplingParams(n=2, max_new_tokens=6, seed=1))
    assert [len(c) for c in out] == [2, 2, 2]
    # A random model rarely emits its end token within 6 tokens; the reason must say which it was.
    assert all(c.finish_reason in ("stop", "length") and isinstance(c.text, str) for cs in out for c in cs)
    assert any(c.finish_reason == "length" for cs in out for c in cs)


def test_seeded_sampling_is_reproducible(sampler, synthetic_prompts):
    conversations = [GeoVerifier().messages(p) for p in synthetic_prompts[:2]]
    params = SamplingParams(n=2, max_new_tokens=8, temperature=1.0, seed=3)
    first = sampler.generate(conversations, params)
    again = sampler.generate(conversations, params)
    assert [[c.text for c in cs] for cs in first] == [[c.text for c in cs] for cs in again]


def test_batched_greedy_equals_one_by_one(tiny_vlm, synthetic_prompts, tmp_path):
    # Prompts of different lengths (left padding) and a multi-tile image (tiles of several
    # images concatenated in order) must not change what each row generates.
    Image.new("RGB", (300, 120), "white").save(tmp_path / "wide.png")
    conversations = [GeoVerifier().messages(p) for p in synthetic_prompts[:3]]
    conversations.append([{"role": "user", "content": [{"type": "image", "path": str(tmp_path / "wide.png")},
                                                        {"type": "text", "text": "Which?"}]}])
    conversations.append([{"role": "user", "content": "A text-only question."}])
    params = SamplingParams(n=2, max_new_tokens=8, temperature=0.0)
    batched = InternVLSampler(str(tiny_vlm), device="cpu", batch_size=8).generate(conversations, params)
    single = InternVLSampler(str(tiny_vlm), device="cpu", batch_size=1).generate(conversations, params)
    assert [[c.text for c in cs] for cs in batched] == [[c.text for c in cs] for cs in single]
    assert all(cs[0].text == cs[1].text for cs in batched)  # greedy: one generation repeated


def test_stop_strings_cut_the_response(sampler, synthetic_prompts):
    conversation = [GeoVerifier().messages(synthetic_prompts[0])]
    params = SamplingParams(n=1, max_new_tokens=16, temperature=1.0, seed=5)
    [[full]] = sampler.generate(conversation, params)
    # A marker from inside the response, without whitespace (the prompt ends in a newline, and
    # transformers matches stop strings across the prompt's end).
    start = next(i for i in range(2, len(full.text) - 1) if not full.text[i:i + 2].isspace() and " " not in full.text[i:i + 2]
                 and "\n" not in full.text[i:i + 2])
    marker = full.text[start:start + 2]
    params.stop = [marker]
    [[cut]] = sampler.generate(conversation, params)
    assert cut.text == full.text[: full.text.index(marker)] and cut.finish_reason == "stop"


def test_bad_input_is_reported(sampler):
    with pytest.raises(RedStarError):
        sampler.generate([[{"role": "user", "content": 5}]], SamplingParams(max_new_tokens=2))
    with pytest.raises(RedStarError):
        sampler.generate([[{"role": "user", "content": "x"}]], SamplingParams(max_new_tokens=2, top_p=0))
    with pytest.raises(ValueError):
        InternVLSampler("unused", batch_size=0)


def test_bad_dtype_is_reported(tiny_vlm):
    with pytest.raises(RedStarError, match="dtype"):
        InternVLSampler(str(tiny_vlm), device="cpu", dtype="int8").load()


def test_non_internvl_checkpoints_are_refused(tiny_lm):
    with pytest.raises(RedStarError, match="InternVL"):
        InternVLSampler(str(tiny_lm), device="cpu").load()


def r1_style_copy(model: Path, tmp_path: Path) -> Path:
    """``model`` with a chat template whose generation prompt ends with ``<think>\\n``, as
    DeepSeek-R1's and QwQ's do (and R1-style InternVL fine-tunes)."""
    copy = tmp_path / "r1-style"
    shutil.copytree(model, copy)
    ending = "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    replaced = 0
    for path in [copy / "chat_template.jinja", copy / "tokenizer_config.json"]:
        if not path.exists():
            continue
        if path.suffix == ".json":
            config = json.loads(path.read_text())
            if ending in (config.get("chat_template") or ""):
                config["chat_template"] = config["chat_template"].replace(ending, R1_ENDING)
                path.write_text(json.dumps(config))
                replaced += 1
        elif ending in path.read_text():
            path.write_text(path.read_text().replace(ending, R1_ENDING))
            replaced += 1
    assert replaced, "the tiny model's chat template was not found"
    return copy


R1_ENDING = "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"


def test_an_r1_style_template_s_think_starts_every_response(tiny_vlm, synthetic_prompts, tmp_path):
    """A template that ends the generation prompt with ``<think>\\n``: the model starts inside its
    reasoning and never writes the tag, so each response gets the opening back (greedy and
    sampled, images or not): a response cut off mid-reasoning then reads as unfinished."""
    conversations = [GeoVerifier().messages(p) for p in synthetic_prompts[:2]]
    conversations.append([{"role": "user", "content": "A text-only question."}])
    r1 = InternVLSampler(str(r1_style_copy(tiny_vlm, tmp_path)), device="cpu", batch_size=4)
    try:
        sampled = r1.generate(conversations, SamplingParams(n=2, max_new_tokens=6, seed=1))
        greedy = r1.generate(conversations[:1], SamplingParams(n=2, temperature=0, max_new_tokens=6))
    finally:
        r1.close()
    assert all(c.text.startswith("<think>\n") for row in sampled + greedy for c in row)
    plain = InternVLSampler(str(tiny_vlm), device="cpu", batch_size=4)
    try:
        again = plain.generate(conversations, SamplingParams(n=2, max_new_tokens=6, seed=1))
    finally:
        plain.close()
    assert not any(c.text.startswith("<think>\n") for row in again for c in row)
