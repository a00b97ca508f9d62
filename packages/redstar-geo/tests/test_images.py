from PIL import Image

from redstar_geo.images import find_image, load_rgb


def test_transparent_background_becomes_white_not_black(tmp_path):
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black, as many PNG diagrams
    image.putpixel((1, 1), (0, 0, 0, 255))  # one opaque black line pixel
    image.save(tmp_path / "d.png")
    rgb = load_rgb(tmp_path / "d.png")
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((1, 1)) == (0, 0, 0)


def test_grayscale_and_palette_diagrams_open_as_rgb(tmp_path):
    Image.new("L", (3, 3), 200).save(tmp_path / "g.png")
    Image.new("P", (3, 3), 5).save(tmp_path / "p.png")
    assert load_rgb(tmp_path / "g.png").getpixel((0, 0)) == (200, 200, 200)
    assert load_rgb(tmp_path / "p.png").mode == "RGB"


def test_find_image_fallbacks(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "images").mkdir()
    Image.new("L", (2, 2)).save(tmp_path / "test" / "0.png")
    Image.new("L", (2, 2)).save(tmp_path / "1.png")
    Image.new("L", (2, 2)).save(tmp_path / "images" / "2.png")
    Image.new("L", (2, 2)).save(tmp_path / "images" / "3.png")
    assert find_image(tmp_path, "test/0.png") == (tmp_path / "test" / "0.png").resolve()
    assert find_image(tmp_path, "test/1.png") == (tmp_path / "1.png").resolve()  # flat folder
    assert find_image(tmp_path, "test/2.png") == (tmp_path / "images" / "2.png").resolve()
    assert find_image(tmp_path, "images/3.jpg") == (tmp_path / "images" / "3.png").resolve()  # other suffix
    assert find_image(tmp_path, "images/4.jpg") is None
