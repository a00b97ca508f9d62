import numpy as np
import pytest
from PIL import Image

from redstar_geo.benchmarks import sample_dir
from redstar_geo.images import load_rgb
from redstar_geo.vlm.inputs import IMAGENET_MEAN, IMAGENET_STD, normalize_tiles
from redstar_geo.vlm.tiling import best_grid, candidate_grids, dynamic_tiles, num_tiles, tokens_per_tile


def test_tokens_per_tile_is_internvl_arithmetic():
    assert tokens_per_tile(448, 14, 0.5) == 256  # 32 x 32 patches, 2 x 2 pixel shuffle
    assert tokens_per_tile(112, 14, 0.5) == 16  # the tiny models
    with pytest.raises(ValueError):
        tokens_per_tile(450, 14)
    with pytest.raises(ValueError):
        tokens_per_tile(14 * 7, 14, 0.5)  # 7 patches per side cannot be halved


@pytest.mark.parametrize(("size", "max_num", "grid", "tiles"), [
    ((448, 448), 12, (1, 1), 1),  # small square: one tile, no thumbnail
    ((800, 800), 12, (2, 2), 5),  # larger square: the bigger equal-ratio grid while it is half covered
    ((1000, 1000), 12, (3, 3), 10),  # 1000² px still covers over half of a 3 x 3 grid of 448² tiles
    ((896, 448), 12, (2, 1), 3),
    ((300, 900), 12, (1, 3), 4),
    ((4000, 300), 6, (6, 1), 7),  # very wide, capped by max_num
    ((1000, 1000), 1, (1, 1), 1),  # tiling off
])
def test_grid_and_tile_count(size, max_num, grid, tiles):
    assert best_grid(*size, image_size=448, max_num=max_num) == grid
    image = Image.new("RGB", size, "white")
    cut = dynamic_tiles(image, 448, max_num=max_num)
    assert len(cut) == tiles == num_tiles(*size, 448, max_num=max_num)
    assert all(t.size == (448, 448) for t in cut)
    # Tokens for this image: tiles (+ thumbnail) x 256.
    assert len(cut) * tokens_per_tile(448, 14) == tiles * 256


def test_grids_match_transformers_gotocr2_processor():
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

    rng = np.random.default_rng(0)
    for width, height, max_num in zip(rng.integers(20, 3000, 400), rng.integers(20, 3000, 400),
                                      rng.choice([2, 4, 6, 12], 400)):
        ours = best_grid(int(width), int(height), 448, 1, int(max_num))
        theirs = get_optimal_tiled_canvas((int(height), int(width)), (448, 448), 1, int(max_num))
        assert ours == tuple(theirs), (width, height, max_num)
    assert candidate_grids(1, 4)[:3] == ((1, 1), (1, 2), (2, 1))


def test_tiles_are_cut_row_by_row_from_the_resized_image():
    # Four quadrants of different colours on a 2x2 grid: each tile is one colour.
    image = Image.new("RGB", (1000, 1000))
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    for index, colour in enumerate(colours):
        image.paste(colour, ((index % 2) * 500, (index // 2) * 500, (index % 2 + 1) * 500, (index // 2 + 1) * 500))
    tiles = dynamic_tiles(image, 448, max_num=4)
    assert [t.getpixel((224, 224)) for t in tiles[:4]] == colours
    assert tiles[4].getpixel((10, 10)) == colours[0] and tiles[4].getpixel((430, 430)) == colours[3]  # thumbnail


def test_pixels_match_gotocr2_image_processor_on_a_real_diagram():
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    # A real diagram stretched wide, so that it is cut into several tiles plus a thumbnail.
    image = load_rgb(sample_dir("mathvista") / "images" / "82.png").resize((1100, 420))
    processor = GotOcr2ImageProcessorPil(size={"height": 448, "width": 448}, crop_to_patches=True, max_patches=6,
                                         image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))
    theirs = processor(images=[image], return_tensors="np")
    ours = normalize_tiles(dynamic_tiles(image, 448, max_num=6), IMAGENET_MEAN, IMAGENET_STD)
    assert ours.shape == theirs["pixel_values"].shape == (4, 3, 448, 448)  # 3 x 1 grid + thumbnail
    assert int(theirs["num_patches"][0]) == 4
    # Same grid, same crops, same bicubic resize and normalisation: equal up to float rounding.
    assert np.abs(ours - theirs["pixel_values"]).max() < 1e-4
