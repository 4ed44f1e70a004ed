"""How many tokens each file shares with every other, for a whole class at once.

copydetect's ``compare_files`` does this for one pair, with per-hash Python
work: about a millisecond a pair, so about a minute and a half for the 45,000
pairs of a 300-student class. This computes the same number for all pairs with
array operations (about 1/100 of the time); :func:`grader.similarity.detect.compare_class`
then calls ``compare_files`` only for the pairs it shows side by side, and a test
checks that both give the same numbers.

The number for files *a* and *b* is the length of the union of the windows
``[p, p + k)`` of every fingerprint position ``p`` of *a* whose hash also occurs
in *b*: copydetect's ``token_overlap``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse

#: Cells of one position × file block (bounds memory for very long files).
_BLOCK_CELLS = 4_000_000


def positions(hash_idx: dict[int, list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """A fingerprint's positions (sorted) and the hash at each, as arrays."""
    pairs = sorted((p, h) for h, ps in hash_idx.items() for p in ps)
    pos = np.fromiter((p for p, _ in pairs), dtype=np.int64, count=len(pairs))
    hashes = np.fromiter((h for _, h in pairs), dtype=np.int64, count=len(pairs))
    return pos, hashes


def union_length(pos: np.ndarray, k: int) -> int:
    """Length of the union of ``[p, p + k)`` over sorted positions ``pos``."""
    if pos.size == 0:
        return 0
    return int(np.minimum(np.diff(pos), k).sum() + k)


def shared_tokens(files: Sequence[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    """``out[a, b]``: tokens of file ``a``'s fingerprinted code whose k-gram also occurs in file ``b``.

    Args:
        files: each file's ``(positions, hashes)`` from :func:`positions`.
        k: the k-gram length.
    """
    n = len(files)
    out = np.zeros((n, n), dtype=np.int64)
    unique_per_file = [np.unique(h) for _, h in files]
    if n < 2 or not any(u.size for u in unique_per_file):
        return out
    every = np.concatenate(unique_per_file)
    owner = np.repeat(np.arange(n), [u.size for u in unique_per_file])
    vocabulary, ids = np.unique(every, return_inverse=True)
    # holders[h] = the files in which hash number h occurs (rows: hashes, columns: files).
    holders = sparse.csr_matrix(
        (np.ones(ids.size, dtype=bool), (ids, owner)), shape=(vocabulary.size, n), dtype=bool
    )
    for a, (pos, hashes) in enumerate(files):
        if pos.size == 0:
            continue
        rows = holders[np.searchsorted(vocabulary, hashes)].tocsc()  # sparse: position × file
        block = max(1, _BLOCK_CELLS // pos.size)
        for start in range(0, n, block):
            present = rows[:, start:start + block].toarray()
            if start <= a < start + block:
                present[:, a - start] = False
            out[a, start:start + block] = _union_lengths(pos, present, k)
    return out


def _union_lengths(pos: np.ndarray, selected: np.ndarray, k: int) -> np.ndarray:
    """For each column, the union length of ``[p, p + k)`` over the rows it selects."""
    never = np.iinfo(np.int64).max // 2
    at = np.where(selected, pos[:, None], never)
    # next_at[i] = the next selected position after row i in the same column.
    following = np.minimum.accumulate(at[::-1], axis=0)[::-1]
    next_at = np.vstack([following[1:], np.full((1, at.shape[1]), never)])
    return np.where(selected, np.minimum(next_at - pos[:, None], k), 0).sum(axis=0)
