"""Thin proxies through which a suite uses the student's objects.

``Remote`` forwards attribute reads, calls and operators to the child and
turns the answers back into plain values (numbers, strings, numpy arrays) or
further proxies. A suite can therefore write ``A = Convolution1d(k)``,
``A @ x`` and ``A.T @ y`` as if the class were local, while every line of the
student's code runs in the child.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.sandbox import protocol
from grader.sandbox.outside.session import ChildSession, StudentError


class StaleHandle(StudentError):
    """A proxy outlived the child it pointed into (the child was restarted)."""


class Remote:
    """A proxy for one object living in the student's child."""

    # Make numpy defer to our __rmatmul__ etc. instead of converting us to an array.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, session: ChildSession, ref: protocol.RemoteRef, label: str | None = None):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_generation", session.generation)
        object.__setattr__(self, "_label", label or ref.type_name)

    # -- plumbing ------------------------------------------------------
    def _send(self, message: dict) -> Any:
        session: ChildSession = object.__getattribute__(self, "_session")
        if session.generation != object.__getattribute__(self, "_generation"):
            raise StaleHandle(
                "the student's process was restarted after an earlier failure; this object is gone",
                kind="crash",
            )
        return wrap(session, session.request(message))

    @property
    def remote_type(self) -> str:
        """The class name of the remote object."""
        return object.__getattribute__(self, "_ref").type_name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        ref = object.__getattribute__(self, "_ref")
        return self._send({"op": "getattr", "target": ref, "name": name})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ref = object.__getattribute__(self, "_ref")
        return self._send({"op": "call", "target": ref, "args": [unwrap(a) for a in args],
                           "kwargs": {k: unwrap(v) for k, v in kwargs.items()}})

    def _binop(self, operator: str, left: Any, right: Any) -> Any:
        return self._send({"op": "binop", "operator": operator, "left": unwrap(left), "right": unwrap(right)})

    def __matmul__(self, other: Any) -> Any:
        return self._binop("matmul", self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._binop("matmul", other, self)

    def __getitem__(self, key: Any) -> Any:
        return self._binop("getitem", self, key)

    def __repr__(self) -> str:
        return f"<student {object.__getattribute__(self, '_label')}>"


def wrap(session: ChildSession, value: Any) -> Any:
    """Replaces handles in a decoded answer by proxies."""
    if isinstance(value, protocol.RemoteRef):
        return Remote(session, value)
    if isinstance(value, list):
        return [wrap(session, v) for v in value]
    if isinstance(value, dict):
        return {k: wrap(session, v) for k, v in value.items()}
    return value


def unwrap(value: Any) -> Any:
    """Replaces proxies in a request value by their handles."""
    if isinstance(value, Remote):
        return object.__getattribute__(value, "_ref")
    if isinstance(value, (list, tuple)):
        return [unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value
    return value
