"""RedStar's geometry domain (``geo``): multiple-choice geometry problems with diagrams.

- Benchmarks in their published formats: GeoQA (G-LLaVA's jsonl pair and the original ``.pk``
  pickles), Geometry3K (InterGPS folders) and MathVista-testmini's geometry-problem-solving rows
  (:mod:`redstar_geo.formats`), as sources and evaluators.
- :class:`~redstar_geo.verifier.GeoVerifier`: reads the chosen letter (or a stated value matched
  to the choices) and scores it 1 / 0 / -1.
- InternVL support without torchvision: dynamic 448-px tiling (:mod:`redstar_geo.vlm.tiling`),
  prompt building (:mod:`redstar_geo.vlm.inputs`), the ``internvl`` sampler and the ``vlm-sft``
  trainer.
- Synthetic diagrams with exact answers (:mod:`redstar_geo.synthetic`) for CPU runs, and a tiny
  InternVL-architecture model shipped as ``embedded:tiny-internvl-teacher`` / ``-student``.

``docs/geo.md`` is the user guide.
"""

__version__ = "0.1.0"
