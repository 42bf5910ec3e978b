"""The model catalog (MLflow's registry) and the safe artifacts it holds.

`Catalog` registers versions and moves aliases, keeping every move in the
`AliasHistory` it is given; `aliases` holds the rules of promote, nominate and
rollback; `refs` loads a version by reference after checking its digests;
`bundle`, `flavours`, `artifacts` and `onnx` write and read the verified files;
`predictor` predicts as the gateway serves (ONNX Runtime where there is an export);
`pyfunc` writes the MLmodel through which MLflow loads a version with mlgate's
checks and predicts through that predictor, with the pip `requirements` of the
model; `mlmodel` adds an MLmodel to a version registered without one.
"""

from mlgate.registry.artifacts import ArtifactInfo, load_skops, save_skops, sha256_file
from mlgate.registry.bundle import ModelCard, load_bundle, save_bundle
from mlgate.registry.catalog import Catalog
from mlgate.registry.flavours import Flavour, get_flavour, register_flavour
from mlgate.registry.history import AliasEvent, AliasHistory
from mlgate.registry.pyfunc import write_mlmodel
from mlgate.registry.refs import LoadedModel, load_ref
from mlgate.registry.versions import CHALLENGER, CHAMPION, ModelSummary, VersionInfo

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "AliasEvent",
    "AliasHistory",
    "ArtifactInfo",
    "Catalog",
    "Flavour",
    "LoadedModel",
    "ModelCard",
    "ModelSummary",
    "VersionInfo",
    "get_flavour",
    "load_bundle",
    "load_ref",
    "load_skops",
    "register_flavour",
    "save_bundle",
    "save_skops",
    "sha256_file",
    "write_mlmodel",
]
