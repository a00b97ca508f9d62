"""Built-in cleaning filters: over-repetition and wrong language / language mixing."""

from redstar import hookimpl


@hookimpl
def redstar_register_filters(register):
    from redstar.cleaning import LanguageFilter, RepetitionFilter

    register(RepetitionFilter)
    register(LanguageFilter)
