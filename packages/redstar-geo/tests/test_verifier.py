from redstar.records import REWARD_CORRECT, REWARD_NO_ANSWER, REWARD_WRONG, Prompt
from redstar_geo.llm_extractor import LLMChoiceExtractor, parse_reply
from redstar_geo.verifier import CHOICE_INSTRUCTION, VALUE_INSTRUCTION, GeoVerifier

CHOICES = {"A": "40°", "B": "60°", "C": "120°", "D": "140°"}
META = {"choices": CHOICES}


def test_rewards_are_one_zero_minus_one():
    v = GeoVerifier()
    right = v.verify("<think>180 - 40 = 140</think>\nAnswer: D", "D", META)
    wrong = v.verify("Answer: A", "D", META)
    unmatched = v.verify("Answer: 45°", "D", META)
    missing = v.verify("I am not sure.", "D", META)
    assert (right.correct, right.reward, right.extracted) == (True, REWARD_CORRECT, "D")
    assert (wrong.correct, wrong.reward, wrong.extracted) == (False, REWARD_WRONG, "A")
    assert (unmatched.reward, unmatched.extracted) == (REWARD_WRONG, "45°")
    assert (missing.reward, missing.extracted) == (REWARD_NO_ANSWER, None)


def test_value_answer_is_scored_through_the_choices():
    assert GeoVerifier().verify("So \\boxed{140^\\circ}.", "D", META).correct


def test_duplicate_choice_text_is_right_under_either_letter():
    # MathVista pid 781 lists 9, 12, 18, 18 with answer "18".
    meta = {"choices": {"A": "9", "B": "12", "C": "18", "D": "18"}}
    assert GeoVerifier().verify("Answer: D", "C", meta).correct
    assert not GeoVerifier().verify("Answer: B", "C", meta).correct


def test_free_form_rows_compare_values():
    v = GeoVerifier()
    assert v.verify("Answer: 30.0", "30", {"choices": {}}).correct
    assert v.verify("Answer: 25", "30", {}).reward == REWARD_WRONG
    assert v.verify("no idea", "30", {}).reward == REWARD_NO_ANSWER


def test_messages_put_the_diagram_first_then_question_choices_and_instruction(tmp_path):
    prompt = Prompt("geo", "test", "Find angle C.", "D", image=str(tmp_path / "d.png"), metadata=META)
    [message] = GeoVerifier().messages(prompt)
    image, text = message["content"]
    assert message["role"] == "user"
    assert image == {"type": "image", "path": str(tmp_path / "d.png")}
    assert text["text"] == f"Find angle C.\nChoices:\nA: 40°\nB: 60°\nC: 120°\nD: 140°\n{CHOICE_INSTRUCTION}"
    text_only = GeoVerifier().messages(Prompt("geo", "t", "What is x?", "30"))
    assert text_only == [{"role": "user", "content": f"What is x?\n{VALUE_INSTRUCTION}"}]


def test_extract_reports_the_stated_answer():
    assert GeoVerifier().extract("...\nAnswer: B") == "B"
    assert GeoVerifier().extract("nothing stated") is None


def test_llm_extractor_is_not_built_when_the_rules_succeed():
    # A model that does not exist: building the extractor would fail, so passing shows it was not.
    v = GeoVerifier(llm_extractor_model="/nonexistent/model", llm_extractor_sampler="internvl")
    assert v.verify("Answer: B", "B", META).correct
    assert v._llm is None


def test_llm_extractor_reply_parsing():
    assert parse_reply(" B", CHOICES) == "B"
    assert parse_reply("(C) 120°", CHOICES) == "C"
    assert parse_reply("**D**", CHOICES) == "D"
    assert parse_reply("None", CHOICES) is None
    assert parse_reply("E", CHOICES) is None
    assert parse_reply("Answer B", CHOICES) is None  # the reply must start with the letter


def test_llm_extractor_runs_a_real_model_when_the_rules_fail(tiny_vlm, register_plugin):
    from redstar_geo import plugin

    register_plugin(plugin, name="geo")
    v = GeoVerifier(llm_extractor_model=str(tiny_vlm), llm_extractor_sampler="internvl")
    verdict = v.verify("The diagram shows the bigger angle, one hundred forty degrees.", "D", META)
    assert isinstance(v._llm, LLMChoiceExtractor)
    # A random tiny model may name any option or none; the verdict must follow what it said.
    if verdict.extracted is None:
        assert verdict.reward == REWARD_NO_ANSWER
    else:
        assert verdict.extracted in CHOICES and "llm extractor" in verdict.reason
        assert verdict.correct == (verdict.extracted == "D")
    conversation = v._llm.conversation("long text " * 500 + "so (D)", CHOICES)
    assert conversation[0]["content"].count("long text") < 500  # only the tail is sent
    assert "D: 140°" in conversation[0]["content"]
