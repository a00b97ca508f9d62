import pytest

from redstar_code.extraction import extract_code


def test_last_python_block_wins():
    response = "Draft:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\nDone."
    assert extract_code(response) == "print(2)"


@pytest.mark.parametrize("opening", ["```python", "```py", "```", "```Python3", "````python", "   ```python"])
def test_python_fences_are_recognised(opening):
    closing = "`" * opening.strip().count("`")
    assert extract_code(f"x\n{opening}\nprint(3)\n{closing}\n") == "print(3)"


def test_blocks_in_other_languages_are_skipped():
    response = "```python\nprint('py')\n```\nand in C:\n```cpp\nint main() {}\n```"
    assert extract_code(response) == "print('py')"


def test_unclosed_block_is_no_answer():
    assert extract_code("```python\nprint(1)\n") is None
    # the earlier closed block still counts when a later one is cut off
    assert extract_code("```python\nprint(1)\n```\nnow the final:\n```python\nprint(2)") == "print(1)"


def test_no_block_or_empty_block_is_no_answer():
    assert extract_code("The answer is print(1).") is None
    assert extract_code("```python\n\n```") is None


def test_shorter_fence_inside_longer_block_does_not_close_it():
    response = "````python\ns = '''\n```\n'''\nprint(s)\n````"
    assert extract_code(response) == "s = '''\n```\n'''\nprint(s)"


def test_thinking_and_final_answer():
    response = "<think>\nmaybe\n```python\nprint(0)\n```\n</think>\nFinal:\n```python\nprint(int(input()) * 2)\n```"
    assert extract_code(response) == "print(int(input()) * 2)"
