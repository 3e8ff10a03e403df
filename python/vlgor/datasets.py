"""Read access to vlgor datasets as NumPy arrays."""

from __future__ import annotations

import json
import os

from vlgor import _vlgor


def open_dataset(path: str | os.PathLike) -> dict:
    """Opens the vlgor dataset directory ``path`` with the CLI's checks (manifest, every
    shard's size and sha256, tensor dtypes and shapes; a failed check raises ``ValueError``
    naming the file) and returns its columns as NumPy arrays.

    Keys: ``observations`` [rows, obs_dim] float32, ``states`` [rows, state_dim] float32 (no
    rows for imagined data), ``actions`` ([T] int64 for CLEVR or [T, 4] float32 for Meta-World),
    ``rewards`` [T] float32, ``success`` / ``terminals`` / ``timeouts`` [T] bool, ``frames``
    [rows, H, W, 3] uint8 or None, ``transition_episode`` [T] int64, ``episodes`` (list of
    dicts: index, seed, instruction, goal (dict), level, length, first_row, first_transition)
    and ``manifest`` (dict). An episode of T transitions owns T + 1 observation rows starting at
    ``first_row`` and T transitions starting at ``first_transition``.
    """
    data = _vlgor.open_dataset(os.fspath(path))
    data["manifest"] = json.loads(data["manifest"])
    for e in data["episodes"]:
        e["goal"] = json.loads(e["goal"])
    return data
