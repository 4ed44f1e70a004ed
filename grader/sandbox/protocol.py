"""Wire format between the judge and the student's child process.

Every message is one frame: a 4-byte big-endian length, then that many bytes
of UTF-8 JSON. Values are plain JSON plus two tagged objects:

* ``{"__ndarray__": {"dtype": "<f8", "shape": [3], "data": "<base64>"}}`` for
  numeric numpy arrays (never object arrays), and
* ``{"__remote__": 7, "type": "Convolution1d"}`` for a handle to an object
  that lives in the child and is reached by further requests.

Nothing is ever unpickled: a child that student code has taken over can at
worst send well-formed JSON with wrong numbers, which the judge treats like any
other wrong answer.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Frames larger than this are refused, so a child cannot make the judge
#: allocate without bound.
MAX_FRAME_BYTES = 256 * 1024 * 1024

#: Array kinds allowed across the boundary: bool, signed, unsigned, float, complex.
_ARRAY_KINDS = frozenset("biufc")

_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame or value."""


class FrameTooLarge(ProtocolError):
    """A frame over :data:`MAX_FRAME_BYTES`: never written (the writer is told), so one read means tampering."""


@dataclass(frozen=True)
class RemoteRef:
    """A handle to an object that lives in the child."""

    id: int
    """The child's id for the object; only meaningful on that child."""

    type_name: str
    """The object's class name, for messages."""


def encode(value: Any) -> Any:
    """Turns a value into JSON-ready data (arrays and scalars tagged or converted).

    Raises:
        TypeError: for a value that has no plain-data form.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, RemoteRef):
        return {"__remote__": value.id, "type": value.type_name}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        if value.dtype.kind in _ARRAY_KINDS:
            return _encode_array(np.asarray(value))
        raise TypeError(f"cannot send numpy scalar of dtype {value.dtype}")
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot send a value of type {type(value).__name__}")


#: Exact types :func:`encode` returns unchanged (a finite float too); subclasses take the general path.
_PLAIN_SCALARS = frozenset({bool, str, int})


def is_plain(value: Any) -> bool:
    """Whether :func:`encode` accepts ``value`` (it raises TypeError exactly where this is False).

    Arrays are only checked, not serialized: the child asks this of every
    value student code returns, and encodes the answer once, later.
    """
    try:
        _check(value)
    except TypeError:
        return False
    return True


def _check(value: Any) -> None:
    vtype = type(value)
    if vtype is np.ndarray:
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
    elif value is None or vtype is float or vtype in _PLAIN_SCALARS:
        pass
    elif vtype is list or vtype is tuple:
        for item in value:
            _check(item)
    else:
        encode(value)  # everything else exactly as encode treats it (and with its side effects)


def snapshot(value: Any) -> Any:
    """``decode(encode(value))``: what the peer would receive, made without the JSON-ready detour for arrays.

    Raises:
        TypeError: for a value that has no plain-data form.
    """
    vtype = type(value)
    if vtype is np.ndarray and value.dtype.kind in _ARRAY_KINDS:
        # A C-ordered copy of the same bytes with the dtype named by its string, as decode builds it.
        return np.array(value, dtype=np.dtype(value.dtype.str), order="C", copy=True)
    if value is None or vtype in _PLAIN_SCALARS or (vtype is float and math.isfinite(value)):
        return value
    if vtype is list or vtype is tuple:
        return [snapshot(v) for v in value]
    return decode(encode(value))  # tagged dicts, non-finite floats, numpy scalars, subclasses


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`; validates every tagged object it meets."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "__ndarray__" in data:
            return _decode_array(data["__ndarray__"])
        if "__float__" in data:
            text = data["__float__"]
            if not isinstance(text, str) or text not in _NON_FINITE:
                raise ProtocolError(f"malformed non-finite float {text!r}")
            return float(text)
        if "__remote__" in data:
            rid, tname = data["__remote__"], data.get("type", "object")
            if not isinstance(rid, int) or not isinstance(tname, str):
                raise ProtocolError("malformed remote reference")
            return RemoteRef(rid, tname)
        return {k: decode(v) for k, v in data.items()}
    return data


def _encode_float(value: float) -> Any:
    # JSON has no NaN/inf; tag them so both sides stay strict JSON.
    if math.isfinite(value):
        return value
    # float.__repr__, not repr: a numpy float64 (a float subclass) reprs as "np.float64(nan)".
    return {"__float__": float.__repr__(value)}


#: The only texts a ``__float__`` tag may hold: what float.__repr__ gives for a non-finite float.
_NON_FINITE = frozenset({"nan", "inf", "-inf"})


def _encode_array(arr: np.ndarray) -> dict:
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"cannot send an array of dtype {arr.dtype}")
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
    shape = list(arr.shape)
    arr = arr.copy(order="C") if not arr.flags.c_contiguous else arr
    return {
        "__ndarray__": {
            "dtype": arr.dtype.str,
            "shape": shape,
            "data": base64.b64encode(arr.tobytes()).decode("ascii"),
        }
    }


def _decode_array(spec: Any) -> np.ndarray:
    try:
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(s) for s in spec["shape"])
        raw = base64.b64decode(spec["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed array: {exc}") from exc
    if dtype.kind not in _ARRAY_KINDS or dtype.hasobject:
        raise ProtocolError(f"refused array dtype {dtype}")
    if any(s < 0 for s in shape) or math.prod(shape) * dtype.itemsize != len(raw):
        raise ProtocolError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def write_frame(fd: int, message: dict) -> None:
    """Writes one message to a file descriptor.

    Raises:
        FrameTooLarge: the message would exceed :data:`MAX_FRAME_BYTES`; nothing was written.
    """
    payload = json.dumps(encode(message), allow_nan=False).encode("utf-8")
    if len(payload) > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"a message of {len(payload)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    _write_all(fd, _HEADER.pack(len(payload)) + payload)


def read_frame(fd: int) -> dict:
    """Reads one message; raises EOFError when the peer closed the channel."""
    header = _read_exact(fd, _HEADER.size)
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame of {length} bytes exceeds the limit")
    try:
        message = json.loads(_read_exact(fd, length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a JSON object")
    return decode(message)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("channel closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
