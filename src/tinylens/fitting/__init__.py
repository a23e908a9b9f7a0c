"""The parts of :func:`tinylens.fit`, one idea a module: its result and the texts that tell it
(:mod:`~tinylens.fitting.summary`), its output folder (:mod:`~tinylens.fitting.folder`), an earlier
fit's files it replaces (:mod:`~tinylens.fitting.replaced`), the outputs it writes
(:mod:`~tinylens.fitting.outputs`), the checks made before it samples
(:mod:`~tinylens.fitting.checks`) and the checkpoints it resumes or replaces
(:mod:`~tinylens.fitting.resume`). Nothing is imported here, so that each stays as light as
``import tinylens`` needs.
"""
