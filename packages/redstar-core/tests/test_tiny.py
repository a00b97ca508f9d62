"""The tiny-model chat template: training text must begin with the exact sampling prompt, and the
assistant mask must cover the response (reasoning and answer) and nothing of the prompt."""

from redstar.tiny import train_tokenizer

CONVERSATION = [
    {"role": "user", "content": "What is 2 + 3?\nPut the answer in \\boxed{}."},
    {"role": "assistant", "content": "<think>\n2 + 3 = 5. Wait, let me verify: 5 - 3 = 2.\n</think>\n\nThe answer is \\boxed{5}."},
]


def test_training_text_starts_with_the_sampling_prompt():
    tok = train_tokenizer([c["content"] for c in CONVERSATION] * 10, vocab_size=300)
    full = tok.apply_chat_template(CONVERSATION, tokenize=False)
    prompt = tok.apply_chat_template(CONVERSATION[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert full == prompt + CONVERSATION[1]["content"] + "<|im_end|>\n"


def test_assistant_mask_covers_exactly_the_response():
    tok = train_tokenizer([c["content"] for c in CONVERSATION] * 10, vocab_size=300)
    out = tok.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    masked = [i for i, keep in zip(out["input_ids"], out["assistant_masks"]) if keep]
    assert tok.decode(masked) == CONVERSATION[1]["content"] + "<|im_end|>"


def test_reasoning_tags_are_single_tokens():
    tok = train_tokenizer(["<think> a </think>"] * 5, vocab_size=300)
    assert len(tok("<think>").input_ids) == 1 and len(tok("</think>").input_ids) == 1
