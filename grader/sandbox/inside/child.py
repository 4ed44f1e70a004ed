"""The process that holds a student's code and answers the judge's requests.

Started by :class:`grader.sandbox.outside.session.ChildSession` as
``python -I child.py REQ_FD RESP_FD STUDENT_DIR``. It reads request frames,
runs the student's code, and answers with plain data or handles to objects it
keeps. Its stdout and stderr are files the judge chose; its stdin is empty.

Requests (``op`` field):

* ``load``: ``path``, ``module``, ``required``, ``mode`` → namespace summary
* ``getattr``: ``target`` (handle), ``name`` → value or handle
* ``call``: ``target``, ``args``, ``kwargs`` → value or handle
* ``binop``: ``operator`` (``matmul``…), ``left``, ``right`` → value or handle
* ``plugin``: ``path`` of a trusted Python file whose ``register(registry)``
  adds ops and AST transformers (guards, observers); the contract is
  :mod:`grader.sandbox.inside.hookspec`
* any op a plugin registered.
"""

from __future__ import annotations

import operator
import os
import sys
from pathlib import Path

# Make the grader package importable without trusting the student's folder or
# PYTHONPATH: the child runs with -I, so nothing else is on sys.path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from grader.sandbox import protocol  # noqa: E402
from grader.sandbox.inside import headless, loader  # noqa: E402
from grader.sandbox.inside.hookspec import Registry  # noqa: E402

_BINOPS = {
    "matmul": operator.matmul,
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "getitem": operator.getitem,
}


def compile_plugin(path: str, source: str):
    """A trusted plugin file's code; the zygote calls it too, so its compiled code is the same."""
    return compile(source, path, "exec")


class Child:
    """State of the child: loaded modules, the object table, registered ops.

    Args:
        student_root: the student's working copy.
        compiled: plugin path -> (source, code) the zygote compiled before the fork; a
            plugin whose file no longer reads the same is compiled here.
    """

    def __init__(self, student_root: Path, compiled: dict | None = None) -> None:
        self.student_root = student_root
        self.compiled = compiled or {}
        self.modules: dict[str, loader.LoadedModule] = {}
        self.objects: dict[int, object] = {}
        self.transformers: list[loader.Transformer] = []
        self.ops = {
            "load": Child.op_load,
            "getattr": Child.op_getattr,
            "call": Child.op_call,
            "binop": Child.op_binop,
            "plugin": Child.op_plugin,
            "ping": lambda child, request: "pong",
        }

    # -- object table -------------------------------------------------
    def wrap(self, value):
        """Returns plain data as is; keeps anything else and returns a handle."""
        if protocol.is_plain(value):
            return value
        ref = protocol.RemoteRef(id(value), type(value).__name__)
        self.objects[ref.id] = value
        return ref

    def unwrap(self, value):
        """Replaces handles in a decoded request value by the objects they name."""
        if isinstance(value, protocol.RemoteRef):
            try:
                return self.objects[value.id]
            except KeyError:
                raise LookupError(f"unknown object handle {value.id}") from None
        if isinstance(value, list):
            return [self.unwrap(v) for v in value]
        if isinstance(value, dict):
            return {k: self.unwrap(v) for k, v in value.items()}
        return value

    # -- ops ------------------------------------------------------------
    def op_load(self, request):
        path = (self.student_root / request["path"]).resolve()
        name = request.get("module") or path.stem
        loaded = loader.load(
            path,
            name,
            request.get("required", []),
            self.student_root,
            self.transformers,
            request.get("mode", "auto"),
        )
        self.modules[name] = loaded
        namespace = {
            key: type(val).__name__
            for key, val in vars(loaded.module).items()
            if not key.startswith("__")
        }
        return {
            "module": self.wrap(loaded.module),
            "mode": loaded.mode,
            "notes": loaded.notes,
            "namespace": namespace,
        }

    def op_getattr(self, request):
        target = self.unwrap(request["target"])
        return self.student_call(getattr, target, request["name"], doing=f"reading attribute .{request['name']}")

    def op_call(self, request):
        target = self.unwrap(request["target"])
        args = self.unwrap(request.get("args", []))
        kwargs = self.unwrap(request.get("kwargs", {}))
        name = getattr(target, "__name__", type(target).__name__)
        return self.student_call(target, *args, doing=f"calling {name}", **kwargs)

    def op_binop(self, request):
        func = _BINOPS[request["operator"]]
        left = self.unwrap(request["left"])
        right = self.unwrap(request["right"])
        symbol = {"matmul": "@"}.get(request["operator"], request["operator"])
        doing = f"computing {loader.operand_name(left)} {symbol} {type(right).__name__}"
        return self.student_call(func, left, right, doing=doing)

    def op_plugin(self, request):
        namespace: dict = {"__name__": f"grader_plugin_{len(self.ops)}"}
        path = Path(request["path"])
        source = path.read_text(encoding="utf-8")  # read here all the same: the child's view must allow it
        known = self.compiled.get(str(path))
        code = known[1] if known is not None and known[0] == source else compile_plugin(str(path), source)
        exec(code, namespace)
        namespace["register"](Registry(self), **request.get("options", {}))
        return {"ops": sorted(self.ops)}

    def student_call(self, func, *args, doing: str, **kwargs):
        """Runs student code and wraps the result; student failures become reports."""
        try:
            result = func(*args, **kwargs)
        except SystemExit as exc:
            raise loader.describe_exception(exc, self.student_root, doing) from None
        except Exception as exc:  # noqa: BLE001 - reported to the judge
            raise loader.describe_exception(exc, self.student_root, doing) from None
        return self.wrap(result)

    # -- main loop -------------------------------------------------------
    def serve(self, req_fd: int, resp_fd: int) -> None:
        """Answers requests until the judge closes the channel."""
        while True:
            try:
                request = protocol.read_frame(req_fd)
            except EOFError:
                return
            response = self.handle(request)
            # Flush the student's prints so the judge's view of them is current.
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            try:
                protocol.write_frame(resp_fd, response)
            except protocol.FrameTooLarge as exc:
                # An honest child never sends an oversized frame, so the judge can treat one as tampering.
                protocol.write_frame(resp_fd, {"ok": False, "error": {
                    "kind": "exception", "message": f"the answer is too large to send to the grader ({exc})"}})

    def handle(self, request: dict) -> dict:
        """Runs one request and returns the response frame."""
        handler = self.ops.get(request.get("op"))
        if handler is None:
            return {"ok": False, "error": {"kind": "protocol", "message": f"unknown op {request.get('op')!r}"}}
        try:
            value = handler(self, request)
            return {"ok": True, "value": protocol.encode(value)}
        except loader.StudentCodeError as exc:
            return {
                "ok": False,
                "error": {"kind": exc.kind, "message": str(exc), "where": exc.where, "trace": exc.trace},
            }
        except MemoryError:
            return {"ok": False, "error": {"kind": "memory", "message": "MemoryError: the memory limit was reached"}}
        except TypeError as exc:
            # Raised by protocol.encode for a value with no plain-data form.
            return {"ok": False, "error": {"kind": "protocol", "message": str(exc)}}
        except Exception as exc:  # noqa: BLE001 - a request the child could not serve
            return {"ok": False, "error": {"kind": "grader", "message": f"{type(exc).__name__}: {exc}"}}


def main(argv: list[str]) -> None:
    """Entry point: ``child.py REQ_FD RESP_FD STUDENT_DIR``."""
    serve_student(int(argv[1]), int(argv[2]), Path(argv[3]))


def serve_student(req_fd: int, resp_fd: int, student_root: Path, compiled: dict | None = None) -> None:
    """Serves one student's problem on the two pipes, then ends the process (also the zygote's children).

    ``compiled``: the zygote's pre-compiled plugins (see :class:`Child`).
    """
    student_root = student_root.resolve()
    # Line-buffered, as on a terminal: a printed line reaches the judge's file at once. Block
    # buffering kept it here until the next flush, and a child the judge stops (it corrupted its
    # channel, crashed) lost it or not depending on the race with that stop.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    headless.install()
    # Student code runs with its own folder as the working directory and first
    # on sys.path, as when the student ran it; the grader's modules are already
    # imported, so a student file cannot shadow them.
    os.chdir(student_root)
    sys.path.insert(0, str(student_root))
    sys.argv = [str(student_root / "student.py")]
    child = Child(student_root, compiled)
    child.serve(req_fd, resp_fd)
    # Skip interpreter teardown: student objects' __del__ must not run after
    # the judge stopped listening, and a hung atexit handler must not block.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
