"""Surveys: many lenses modelled with one template config on a Dask cluster.

>>> from tinylens.survey.runner import run_survey
>>> catalog = run_survey("lenses/", "template.yaml", "survey_out", workers=4)
"""
