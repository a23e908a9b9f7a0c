"""Configuration: the TinyLensGpu YAML schema and its loader.

>>> cfg, base_dir = load_config("model_config.yaml")
>>> resolve_path(base_dir, cfg.dataset.data_path)

The profile-dependent resolution of ``model_components`` lives in
:mod:`tinylens.config.model_spec` (not imported here, to keep this package light).
"""

from tinylens.config.loader import load_config, resolve_path
from tinylens.config.schema import (
    COMPONENT_LISTS,
    Component,
    Config,
    Dataset,
    DatasetFigures,
    Figures,
    Inference,
    MaskShape,
    ModelComponents,
    Output,
    ParamLink,
    ParamSpec,
    Tables,
)

__all__ = [
    "COMPONENT_LISTS",
    "Component",
    "Config",
    "Dataset",
    "DatasetFigures",
    "Figures",
    "Inference",
    "MaskShape",
    "ModelComponents",
    "Output",
    "ParamLink",
    "ParamSpec",
    "Tables",
    "load_config",
    "resolve_path",
]
