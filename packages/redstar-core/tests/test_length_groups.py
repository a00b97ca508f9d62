"""``sft``'s ``group_by_length`` sampler: batches of similar length, in random order."""

from __future__ import annotations

import random

from redstar.trainers.length_groups import GROUP_BATCHES, ShuffledLengthGroups


def padding_share(lengths, batches):
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def random_lengths(n, seed=0):
    rng = random.Random(seed)
    return [rng.randint(50, 450) for _ in range(n)]


def test_each_epoch_is_a_permutation_cut_into_full_batches_and_a_last_smaller_one():
    lengths = random_lengths(1439)
    sampler = ShuffledLengthGroups(lengths, batch_size=16, seed=0)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = sampler.batches()
        assert sorted(i for b in batches for i in b) == list(range(1439))
        assert [len(b) for b in batches] == [16] * 89 + [15]
        assert list(sampler) == [i for b in batches for i in b]


def test_batches_are_of_similar_length_and_their_order_carries_no_length():
    lengths = random_lengths(3200)
    sampler = ShuffledLengthGroups(lengths, batch_size=16, seed=0)
    batches = sampler.batches()
    shuffled = list(range(3200))
    random.Random(1).shuffle(shuffled)
    random_batches = [shuffled[i:i + 16] for i in range(0, 3200, 16)]
    assert padding_share(lengths, random_batches) > 0.25 and padding_share(lengths, batches) < 0.05
    # transformers' sampler yields each group's batches longest first; here the longest rows of a
    # group are as likely to come late as early.
    means = [sum(lengths[i] for i in b) / len(b) for b in batches]
    first_group = means[:GROUP_BATCHES]
    assert first_group != sorted(first_group, reverse=True) and first_group != sorted(first_group)
    half = len(means) // 2
    assert abs(sum(means[:half]) / half - sum(means[half:]) / (len(means) - half)) < 25


def test_the_order_is_the_seeds_and_the_epochs():
    lengths = random_lengths(500)
    a, b = ShuffledLengthGroups(lengths, 8, seed=3), ShuffledLengthGroups(lengths, 8, seed=3)
    assert a.batches() == b.batches()  # every process of a launch, and a resumed epoch
    b.set_epoch(1)
    assert a.batches() != b.batches()
    assert ShuffledLengthGroups(lengths, 8, seed=4).batches() != a.batches()
