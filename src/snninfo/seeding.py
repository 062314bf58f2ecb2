"""Seed derivation: every random draw of a branch derives from its configured seed.

Each stage gets its own stream, ``derive_seed(seed, "train")``, so rerunning one stage
(or changing another) never shifts the random numbers of the others.
"""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(seed: int, *keys: str | int) -> int:
    """A 63-bit seed from the config seed and stage keys (stable across runs and platforms)."""
    spawn_key = tuple(zlib.crc32(str(k).encode()) for k in keys)
    state = np.random.SeedSequence(entropy=int(seed), spawn_key=spawn_key).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def seed_torch(seed: int, *keys: str | int) -> int:
    """Seed torch's global generators (CPU and CUDA) for one stage; returns the seed used."""
    import torch

    s = derive_seed(seed, *keys)
    torch.manual_seed(s)
    return s
