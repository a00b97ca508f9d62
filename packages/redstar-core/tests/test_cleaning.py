from redstar.cleaning import LanguageFilter, RepetitionFilter, tail_period_repeats
from redstar.records import Prompt

PROMPT = Prompt(domain="math", source="s", question="q", reference="1")

HEALTHY = (
    "<think>\nFirst, 12 * 3 = 36. Then 36 + 5 = 41.\nWait, let me verify: 41 - 5 = 36 and 36 / 3 = 12. Yes.\n"
    "Let me also check the units: the question asks for apples, so 41 apples.\n</think>\n\nThe answer is \\boxed{41}."
)


def test_healthy_long_cot_is_kept():
    assert RepetitionFilter().check(HEALTHY, PROMPT) is None
    assert LanguageFilter().check(HEALTHY, PROMPT) is None


def test_looping_tail_is_dropped():
    looping = HEALTHY[:120] + "Wait, let me check again. " * 40
    assert RepetitionFilter().check(looping, PROMPT) == "repetition"
    period, repeats = tail_period_repeats(looping)
    assert period == len("Wait, let me check again. ") and repeats >= 40


def test_repeated_lines_are_dropped():
    text = "\n".join(["So the total is 41 apples here."] * 12)
    assert RepetitionFilter().check(text, PROMPT) == "repetition"


def test_language_mixing_and_wrong_language():
    mixed = HEALTHY + " 所以答案是四十一，我们再检查一遍这个结果是否正确。"
    assert LanguageFilter().check(mixed, PROMPT) == "language mixing"
    chinese = "首先计算十二乘以三等于三十六，然后加五等于四十一。答案是 \\boxed{41}"
    assert LanguageFilter().check(chinese, PROMPT) == "wrong language"
    assert LanguageFilter(expected="zh").check(chinese, PROMPT) is None


def test_greek_math_letters_are_not_foreign():
    assert LanguageFilter().check("The angle θ equals π/3, so α + β = 2π/3. " * 3, PROMPT) is None
