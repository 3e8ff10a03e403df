"""vlgor's native CLEVR-Robot and Meta-World simulators from Python.

Importing the package registers the Gymnasium environments ``vlgor/CLEVR-v0`` and
``vlgor/MetaWorld-<task>-v0`` (one per Meta-World task, see :data:`METAWORLD_TASKS`), each
with a vector entry point (``gymnasium.make_vec(id, num_envs, vectorization_mode=
"vector_entry_point")``) backed by one Rust batch.
"""

from vlgor._vlgor import SimBatch, __version__, episode_seed, levels, metaworld_tasks
from vlgor.datasets import open_dataset
from vlgor.envs import VlgorEnv, VlgorVectorEnv, register_envs

METAWORLD_TASKS = tuple(metaworld_tasks())

register_envs()

__all__ = [
    "METAWORLD_TASKS",
    "SimBatch",
    "VlgorEnv",
    "VlgorVectorEnv",
    "__version__",
    "episode_seed",
    "levels",
    "open_dataset",
    "register_envs",
]
