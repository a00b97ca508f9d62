import pytest

from redstar.records import Prompt, RecordError, Sample, Verdict, prompt_id


def test_prompt_id_is_stable_and_content_based():
    a = Prompt(domain="math", source="s1", question="1+1?", reference="2")
    b = Prompt(domain="math", source="other-source", question="1+1?", reference="2")
    assert a.id == b.id == prompt_id("math", "1+1?", "2")
    assert Prompt(domain="math", source="s1", question="1+1?", reference="3").id != a.id


def test_round_trip():
    p = Prompt(domain="code", source="taco", question="q", reference="{}", difficulty=7, metadata={"fn_name": "f"})
    assert Prompt.from_dict(p.to_dict()) == p
    s = Sample(prompt_id=p.id, index=2, response="r", model="m", finish_reason="length")
    assert Sample.from_dict(s.to_dict()) == s and s.truncated and s.id.endswith("#2")
    v = Verdict.no_answer()
    assert Verdict.from_dict(v.to_dict()) == v and v.reward == -1 and not v.correct


@pytest.mark.parametrize("data,field", [
    ({"domain": "math", "source": "s", "question": "q"}, "reference"),
    ({"domain": "math", "source": "s", "question": 3, "reference": "x"}, "question"),
    ({"domain": "math", "source": "s", "question": "q", "reference": "x", "difficulty": True}, "difficulty"),
    ({"domain": "math", "source": "s", "question": "q", "reference": "x", "colour": 1}, "colour"),
])
def test_malformed_prompt_names_the_field(data, field):
    with pytest.raises(RecordError) as err:
        Prompt.from_dict(data)
    assert err.value.field == field


def test_verdict_rewards():
    assert Verdict.right("3").reward == 1
    assert Verdict.wrong("4").reward == 0
    assert Verdict.no_answer().reward == -1
