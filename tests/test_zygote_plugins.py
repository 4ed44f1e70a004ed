"""Child plugins compiled once by the zygote: only children run them, each load fresh, edits seen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.sandbox.outside.launcher import ZygoteLauncher
from grader.sandbox.outside.session import ChildSession, Limits

_PLUGIN = '''
import os

LOADED_IN = os.getpid()
REGISTERED = []

def register(registry, **options):
    REGISTERED.append(options)

    def whoami(child, request):
        return {"version": VERSION, "loaded_here": LOADED_IN == os.getpid(), "registered": len(REGISTERED),
                "precompiled": any(p.endswith("probe_plugin.py") for p in child.compiled)}

    registry.add_op("whoami", whoami)

VERSION = "{version}"
'''


@pytest.fixture
def plugin_zygote(tmp_path):
    plugin = tmp_path / "plugin" / "probe_plugin.py"
    plugin.parent.mkdir()
    plugin.write_text(_PLUGIN.replace("{version}", "one"))
    proc, sock = ZygoteLauncher.spawn_zygote()
    yield plugin, ZygoteLauncher(sock, plugins=[str(plugin)]), proc
    sock.close()
    proc.wait(timeout=30)


def _whoami(tmp_path, name: str, plugin: Path, launcher, loads: int = 1) -> dict:
    work = tmp_path / name
    work.mkdir()
    session = ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / f"{name}-scratch",
                           plugins=[(str(plugin), {"n": i}) for i in range(loads)], launcher=launcher)
    with session:
        return session.request({"op": "whoami"})


def test_children_run_the_zygotes_compiled_plugin_afresh_and_see_an_edited_one(tmp_path, plugin_zygote):
    plugin, launcher, zygote = plugin_zygote
    first = _whoami(tmp_path, "first", plugin, launcher)
    # Its top level ran in the child (not the zygote), in a namespace of its own.
    assert first == {"version": "one", "loaded_here": True, "registered": 1, "precompiled": True}
    # Loaded twice in one child: two fresh namespaces, as when each load compiled the file.
    assert _whoami(tmp_path, "twice", plugin, launcher, loads=2)["registered"] == 1
    assert _whoami(tmp_path, "second", plugin, launcher)["registered"] == 1
    plugin.write_text(_PLUGIN.replace("{version}", "two"))
    os.utime(plugin, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _whoami(tmp_path, "edited", plugin, launcher)["version"] == "two"
    assert zygote.poll() is None


def test_a_plugin_that_does_not_compile_fails_in_the_child_as_before(tmp_path, plugin_zygote):
    plugin, launcher, _ = plugin_zygote
    plugin.write_text("def register(registry:\n")
    with pytest.raises(Exception) as info:
        _whoami(tmp_path, "broken", plugin, launcher)
    assert "SyntaxError" in str(info.value)
