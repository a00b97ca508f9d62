"""Built-in scorer ``given``: keep the difficulty a source already knows (MATH levels, TACO
labels, synthetic generators). Domain packages add model-based scorers."""

from redstar import hookimpl


@hookimpl
def redstar_register_scorers(register):
    from redstar.scoring import GivenScorer

    register(GivenScorer)
