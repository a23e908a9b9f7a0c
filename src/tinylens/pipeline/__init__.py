"""The automated modelling pipeline (stages 1-4); see :mod:`tinylens.pipeline.run`."""

from tinylens.pipeline.run import run_pipeline

__all__ = ["run_pipeline"]
