"""redstar-geo's hook implementations (entry point ``geo = "redstar_geo.plugin"``).

Imports of the implementing modules happen inside the hooks, so listing plugins stays cheap.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from redstar import hookimpl

#: Embedded models shipped in ``redstar_geo/assets/models`` (built by tools/build_tiny_vlm.py).
TEACHER = "embedded:tiny-internvl-teacher"
STUDENT = "embedded:tiny-internvl-student"


@hookimpl
def redstar_embedded_models():
    """The tiny InternVL teacher and student: each ``assets/models/<name>`` folder is one."""
    return [Path(str(resources.files("redstar_geo"))) / "assets" / "models"]


@hookimpl
def redstar_register_sources(register):
    from redstar_geo.sources import Geometry3KSource, GeoQASource, SyntheticGeoSource

    register(GeoQASource)
    register(Geometry3KSource)
    register(SyntheticGeoSource)


@hookimpl
def redstar_register_evaluators(register):
    from redstar_geo.evaluators import (
        Geometry3KEvaluator,
        GeoQAEvaluator,
        MathVistaGeoEvaluator,
        SyntheticGeoHeldoutEvaluator,
    )

    register(GeoQAEvaluator)
    register(MathVistaGeoEvaluator)
    register(Geometry3KEvaluator)
    register(SyntheticGeoHeldoutEvaluator)


@hookimpl
def redstar_register_verifiers(register):
    from redstar_geo.verifier import GeoVerifier

    register(GeoVerifier)


@hookimpl
def redstar_register_samplers(register):
    from redstar_geo.sampler import InternVLSampler

    register(InternVLSampler)


@hookimpl
def redstar_register_trainers(register):
    from redstar_geo.trainer import VLMSFTTrainer

    register(VLMSFTTrainer)


@hookimpl
def redstar_default_recipe():
    """The geo part of ``redstar run --plugins geo``, in the recipe format: synthetic diagrams
    from the levels the paper keeps (7-9; the synthetic variants stop at 8), the held-out
    synthetic set (all levels) as the benchmark, the tiny InternVL teacher and student, and the
    ``internvl`` sampler and ``vlm-sft`` trainer they need."""
    return {
        "models": {"teacher": TEACHER, "student": STUDENT},
        "sources": [{"name": "synthetic-geo", "options": {"count": 64, "levels": [7, 8, 9]}}],
        "selection": {"mix": {"geo": 1.0}},
        # Eight samples per question, as the paper draws for GeoQA.
        "sampling": {"backend": "internvl", "n": 8},
        # redstar-rl's DPO takes text-only conversations; geo prompts carry a diagram.
        "rl": [],
        "sft": {"trainer": "vlm-sft", "options": {"grad_accum": 1, "max_length": 768}},
        "evaluation": {"backend": "internvl",
                       "evaluators": [{"name": "synthetic-geo-heldout", "options": {"count": 40}}]},
    }
