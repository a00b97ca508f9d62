import pytest
from PIL import Image

from redstar_geo.vlm.inputs import IGNORE_INDEX, ImageSettings, InternVLInputs
from redstar_geo.vlm.loading import load_vlm

#: The fields that matter, as in OpenGVLab/InternVL2-8B's config.json (remote-code format).
INTERNVL2_CONFIG = {"model_type": "internvl_chat", "force_image_size": 448, "downsample_ratio": 0.5,
                    "dynamic_image_size": True, "max_dynamic_patch": 12, "min_dynamic_patch": 1,
                    "use_thumbnail": True, "template": "internlm2-chat",
                    "vision_config": {"image_size": 448, "patch_size": 14}}
#: As in the -hf checkpoints (config.json + preprocessor_config.json).
NATIVE_CONFIG = {"model_type": "internvl", "downsample_ratio": 0.5, "image_seq_length": 256,
                 "vision_config": {"image_size": [448, 448], "patch_size": [14, 14]}}
NATIVE_PREPROCESSOR = {"size": {"height": 448, "width": 448}, "crop_to_patches": True, "min_patches": 1,
                       "max_patches": 12, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def test_settings_from_both_checkpoint_formats():
    original = ImageSettings.from_configs(INTERNVL2_CONFIG)
    native = ImageSettings.from_configs(NATIVE_CONFIG, NATIVE_PREPROCESSOR)
    for settings in (original, native):
        assert (settings.image_size, settings.max_tiles, settings.use_thumbnail) == (448, 12, True)
        assert settings.tokens_per_tile == 256
    assert ImageSettings.from_configs(NATIVE_CONFIG, {**NATIVE_PREPROCESSOR, "crop_to_patches": False}).max_tiles == 1
    assert ImageSettings.from_configs({**INTERNVL2_CONFIG, "dynamic_image_size": False}).max_tiles == 1
    with pytest.raises(ValueError, match="image_seq_length"):
        ImageSettings.from_configs({**NATIVE_CONFIG, "image_seq_length": 64}, NATIVE_PREPROCESSOR)
    with pytest.raises(ValueError, match="not InternVL"):
        ImageSettings.from_configs({"model_type": "qwen2"})


@pytest.fixture(scope="module")
def inputs(tiny_vlm) -> InternVLInputs:
    return load_vlm(str(tiny_vlm), device="cpu").inputs


def conversation(image, text="Find angle C."):
    return [{"role": "user", "content": [{"type": "image", "path": str(image)}, {"type": "text", "text": text}]}]


def test_prompt_expands_the_image_into_its_tokens(inputs, tmp_path):
    Image.new("RGB", (300, 120), "white").save(tmp_path / "wide.png")  # 2 x 1 grid + thumbnail, capped at 2
    encoded = inputs.encode_prompt(conversation(tmp_path / "wide.png"))
    tok = inputs.tokenizer
    ids = encoded.input_ids
    assert encoded.tiles_per_image == [3] and encoded.pixel_values.shape == (3, 3, 112, 112)
    assert ids.count(inputs.context_id) == 3 * 16
    assert ids.count(tok.convert_tokens_to_ids("<img>")) == 1 and ids.count(tok.convert_tokens_to_ids("</img>")) == 1
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>user\n<img><IMG_CONTEXT>") and text.endswith("<|im_start|>assistant\n")
    assert "</img>\nFind angle C." in text


def test_training_example_masks_everything_but_the_response(inputs, tmp_path):
    Image.new("RGB", (100, 100), "white").save(tmp_path / "d.png")
    messages = conversation(tmp_path / "d.png") + [{"role": "assistant", "content": "<think>x</think>\nAnswer: B"}]
    example = inputs.encode_example(messages)
    prompt = inputs.encode_prompt(messages[:-1])
    assert example.input_ids[: len(prompt.input_ids)] == prompt.input_ids
    assert example.labels[: len(prompt.input_ids)] == [IGNORE_INDEX] * len(prompt.input_ids)
    response = example.labels[len(prompt.input_ids):]
    assert inputs.tokenizer.decode(response) == "<think>x</think>\nAnswer: B<|im_end|>\n"
    truncated = inputs.encode_example(messages, max_length=len(prompt.input_ids) + 3)
    assert len(truncated.input_ids) == len(prompt.input_ids) + 3
    with pytest.raises(ValueError, match="prompt alone"):
        inputs.encode_example(messages, max_length=10)


def test_text_only_and_bad_parts(inputs):
    encoded = inputs.encode_prompt([{"role": "user", "content": "Which option?"}])
    assert encoded.pixel_values is None and inputs.context_id not in encoded.input_ids
    with pytest.raises(ValueError, match="unsupported content part"):
        inputs.encode_prompt([{"role": "user", "content": [{"type": "video", "path": "x.mp4"}]}])
    with pytest.raises(ValueError, match="placeholders"):
        inputs.expand("<image> and <image>", [1])
