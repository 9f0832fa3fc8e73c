"""Parameter buffers: float32, C order, 64-byte aligned (whole cache lines per row)."""
from __future__ import annotations

import numpy as np

ALIGN = 64


def aligned_zeros(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """A zero-filled C-ordered array whose data pointer is a multiple of 64 bytes."""
    dt = np.dtype(dtype)
    count = int(np.prod(shape)) if shape else 1
    raw = np.zeros(count * dt.itemsize + ALIGN, dtype=np.uint8)
    offset = (-raw.ctypes.data) % ALIGN
    return raw[offset: offset + count * dt.itemsize].view(dt).reshape(shape)


def aligned_copy(a: np.ndarray) -> np.ndarray:
    """An aligned float32 copy of ``a``."""
    out = aligned_zeros(a.shape, np.float32)
    out[...] = a
    return out
