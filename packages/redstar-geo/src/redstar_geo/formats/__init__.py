"""Readers (and writers) for the published geometry benchmark formats.

- :mod:`.gllava`: GeoQA as VLM papers evaluate it - G-LLaVA's ``test_questions.jsonl`` +
  ``test_answers.jsonl``.
- :mod:`.gllava_tuning`: GeoQA as G-LLaVA trains on it - Geo170K's ``qa_tuning.json`` (LLaVA
  conversations), read through :func:`redstar.tables.iter_rows` (also Parquet, ``save_to_disk``
  copies and hub datasets).
- :mod:`.geoqa_pickle`: GeoQA's original ``train/dev/test.pk`` pickles.
- :mod:`.geometry3k`: InterGPS's Geometry3K folders (``<split>/<id>/data.json`` + diagram).
- :mod:`.mathvista`: MathVista's ``testmini.json`` (the geometry-problem-solving rows).

Each reader returns a :class:`~.common.Loaded` (prompts plus the rows it skipped, by policy) and
raises :class:`redstar.errors.InputError` naming file, line (or record) and field for bad input.
The writers emit the same layouts; the synthetic generator uses them so the readers are
exercised on every synthetic run.
"""
