"""Network layer: the child gets a network namespace of its own.

A fresh network namespace holds one interface, a loopback that is down, and
no routes: ``connect`` to 127.0.0.1 (the TA's local services), any UDP send
and any DNS lookup fail with "network unreachable". Nothing is configured,
so there is nothing to get wrong; the cost is one flag to ``unshare(2)``.
"""

from __future__ import annotations

from grader.sandbox.outside import _linux

#: The namespace flag this layer adds.
FLAGS = _linux.CLONE_NEWNET

#: What the layer guarantees, for ``grade --sandbox-info``.
DESCRIPTION = "network: own network namespace, loopback down, no interfaces (no TCP, UDP or DNS)"
