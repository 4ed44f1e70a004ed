"""A rubric suite configured and collected once per judge worker, run once per forked judge.

``pytest.main`` parses its options, registers some thirty plugins and
collects (imports) the suite on every call: a tenth of a second or more
before the first test runs. The judge worker (:mod:`grader.judge_worker`)
instead calls :func:`prepare` once per suite: it builds pytest's ``Config``
and ``Session`` and collects the suite (course content: trusted), but runs
no test and instantiates no fixture. Each forked judge then binds its job's
student to the grading plugin and calls :meth:`PreparedSuite.run`, which does
what the rest of ``pytest.main`` would (select the job's items, run pytest's
test loop, the session's finish and the terminal summary) and gives the same
exit code. The fork dies after its job, so nothing one job does reaches the
next: every fork starts from the worker's state just after collection.

A suite that fails to collect is not prepared: its jobs run ``pytest.main``
in the fork, which reports the error exactly as before.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest import timing
from _pytest.config import ExitCode, _prepareconfig
from _pytest.main import Session
from _pytest.outcomes import Exit
from _pytest.python import get_direct_param_fixture_func

from grader.pytest_plugin import GradingPlugin

#: Longest a worker spends preparing one suite before it gives up (the jobs then run
#: ``pytest.main``, with the same verdicts); only which path runs depends on it.
PREPARE_SECONDS = 20.0


def pytest_args(suite: str, *, prepared: bool = False) -> list[str]:
    """The judge's pytest command line for ``suite`` (``prepared``: for a worker's :func:`prepare`)."""
    folder = str(Path(suite).parent)
    args = [
        suite,
        "-q",
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        # Its teardown runs gc.collect five times over the whole pre-imported heap;
        # the judge has no use for reports of exceptions raised in __del__.
        "-p", "no:unraisableexception",
        "--rootdir", folder,
        "--confcutdir", folder,
        # Collect the suite whatever its name, but only it: a pattern like *.py would
        # also assertion-rewrite (and recompile) every module the suite imports.
        "-o", f"python_files={Path(suite).name}",
        "--tb=short",
        # No global capture of the judge's fds 1 and 2 (they are the judge's log, not the
        # student's output, which the child writes to its own files): it cost a capture
        # start, stop and read per test phase. capsys and capfd still capture for a test
        # that asks; only the log's layout changes (the suite's prints are not in reports).
        "--capture=no",
    ]
    if prepared:
        # Its plugin keeps a copy of the worker's stderr; the fork enables it on its own log.
        args += ["-p", "no:faulthandler"]
    return args


def fingerprint(suite: str) -> tuple:
    """What a prepared suite depends on: its folder's Python files (the suite, its conftest, helpers)."""
    folder = Path(suite).parent
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.py")))
    except OSError:
        return ()


@dataclass
class PreparedSuite:
    """One suite's configured pytest and its collected items, in a judge worker."""

    suite: str
    """The suite's path, as jobs name it."""

    config: object
    """pytest's ``Config``, configured."""

    session: Session
    """The session the items were collected in (started, not finished)."""

    plugin: GradingPlugin
    """The grading plugin its fixtures come from; each fork binds its job's student to it."""

    items: list
    """Every collected item, in pytest's order."""

    fingerprint: tuple
    """:func:`fingerprint` of the suite when it was collected."""

    trimmed: tuple[str, ...] = ()
    """The plugins :func:`_trim` unregistered, as nothing in this suite could observe them."""

    def current(self) -> bool:
        """Whether the suite's files are still those it was collected from."""
        return fingerprint(self.suite) == self.fingerprint

    def forget(self) -> None:
        """In a fork, once the suite's files changed: drops the modules imported from its folder.

        ``pytest.main`` (and :func:`grader.content.load_content_module`) would otherwise reuse the
        worker's modules, collected from the files as they were.
        """
        folder = Path(self.suite).parent.resolve()
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and Path(file).resolve().parent == folder:
                del sys.modules[name]

    def run(self, plugin_handle, tests: set[str]) -> int:
        """In a forked judge: runs the items ``tests`` names for ``plugin_handle``; pytest's exit code."""
        config, session = self.config, self.session
        self.plugin.bind(plugin_handle, tests)
        os.environ["PYTEST_VERSION"] = pytest.__version__
        _StatementRanges.install()
        faulthandler.enable(file=sys.stderr)
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            # Captures duplicate fds 1 and 2 when they start: in the fork, those are the job's log.
            capture.start_global_capturing()
            capture.suspend_global_capture()
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None and hasattr(reporter, "_session_start") and hasattr(timing, "Instant"):
            reporter._session_start = timing.Instant()  # "N passed in ..." counts this job only
        session.items = self.plugin.select(list(self.items), config)
        session.testscollected = len(session.items)
        session.exitstatus = ExitCode.OK
        try:
            config.hook.pytest_runtestloop(session=session)
            if session.testsfailed:
                session.exitstatus = ExitCode.TESTS_FAILED
            elif session.testscollected == 0:
                session.exitstatus = ExitCode.NO_TESTS_COLLECTED
        except session.Failed:
            session.exitstatus = ExitCode.TESTS_FAILED
        except (KeyboardInterrupt, Exit) as exc:
            from _pytest._code import ExceptionInfo

            session.exitstatus = ExitCode.INTERRUPTED
            if isinstance(exc, Exit) and exc.returncode is not None:
                session.exitstatus = exc.returncode
            config.hook.pytest_keyboard_interrupt(excinfo=ExceptionInfo.from_exception(exc))
        except BaseException as exc:  # noqa: BLE001 - as pytest.main: an internal error, reported
            from _pytest._code import ExceptionInfo

            session.exitstatus = ExitCode.INTERNAL_ERROR
            config.notify_exception(ExceptionInfo.from_exception(exc), config.option)
        finally:
            try:
                config.hook.pytest_sessionfinish(session=session, exitstatus=session.exitstatus)
            except Exit as exc:
                if exc.returncode is not None:
                    session.exitstatus = exc.returncode
            config._ensure_unconfigure()
        return int(session.exitstatus)


def _sources(items: list) -> str:
    """The text of every module the items come from and of the conftests that apply to them."""
    texts = []
    for path in {Path(str(item.path)) for item in items} | {
        Path(str(getattr(m, "__file__", "") or "")) for item in items
        for m in item.config.pluginmanager._getconftestmodules(Path(str(item.path)).parent)
    }:
        try:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return "\0unreadable"  # unknown: keep every plugin
    return "\n".join(texts)


def _trim(config, items: list) -> tuple[str, ...]:
    """In the worker, once collected: unregisters per-test plugins this suite cannot observe.

    pytest runs every registered plugin's hooks for each phase of each test
    (a dozen hook calls per test, each through every plugin). Some plugins only
    act when an option is set or when a test asks for their fixture; where
    neither holds for this configuration and these items, they do nothing a test
    can see, and only cost time. Decided once per prepared suite:

    * ``setuponly``, ``setupplan``: act only under ``--setup-show``/``--setup-only``/``--setup-plan``.
    * ``logging-plugin`` (the per-test log capture): its only effect a test can
      observe is the ``caplog`` fixture (the captured records land in report
      sections the grader never reads), and the level, live-log and log-file
      settings; kept if any item's fixtures, or the text of the suite or its
      conftests, name ``caplog``, or any of those settings is made.

    * ``capturemanager``: under ``--capture=no`` it captures nothing; per test phase it
      only wraps the hooks (three hook wrappers per test) to switch the capture fixtures,
      so it goes when no item's fixtures, nor the text of the suite or its conftests,
      name a capture fixture (or ``subtests``, which captures through it), and no other
      plugin kept holds on to it (the logging and set-up plugins are gone).

    Also computes each item's ``location`` (a cached property), so no fork recomputes it,
    and gives directly parametrized arguments their values without a ``request``
    fixture (:class:`_DirectParams`). Returns the names unregistered.
    """
    pm = config.pluginmanager
    gone = []
    option = config.option
    if not (getattr(option, "setupshow", False) or getattr(option, "setuponly", False)
            or getattr(option, "setupplan", False)):
        for name in ("setuponly", "setupplan"):
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
                gone.append(name)
    logging_plugin = pm.get_plugin("logging-plugin")
    if logging_plugin is not None:
        handler = getattr(logging_plugin, "log_file_handler", None)
        quiet = (
            getattr(logging_plugin, "log_level", 0) is None
            and not logging_plugin._log_cli_enabled()
            and getattr(handler, "baseFilename", None) == os.path.abspath(os.devnull)
        )
        uses = any("caplog" in getattr(item, "fixturenames", ("caplog",)) for item in items)
        if quiet and not uses and "caplog" not in _sources(items):
            pm.unregister(name="logging-plugin")
            gone.append("logging-plugin")
    if _capture_unobservable(config, items, gone):
        pm.unregister(name="capturemanager")
        gone.append("capturemanager")
    for item in items:
        item.location  # noqa: B018 - a cached property: filled here, inherited by every fork
    _DirectParams.install(config, items)
    return tuple(gone)


#: The fixtures that reach the capture manager (``subtests`` captures each subtest's output through it).
_CAPTURE_FIXTURES = ("capsys", "capsysbinary", "capteesys", "capfd", "capfdbinary", "subtests")


def _capture_unobservable(config, items: list, gone: list) -> bool:
    """Whether unregistering ``capturemanager`` changes nothing any of ``items`` can see (see :func:`_trim`)."""
    pm = config.pluginmanager
    if getattr(config.option, "capture", None) != "no" or pm.get_plugin("capturemanager") is None:
        return False
    if not {"logging-plugin", "setuponly"} <= set(gone) or getattr(config.option, "usepdb", False):
        return False
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None or any(name in names for name in _CAPTURE_FIXTURES):
            return False
    text = _sources(items)
    return not any(name in text for name in _CAPTURE_FIXTURES)


class _DirectParams:
    """Sets up each directly parametrized argument (``parametrize("n", ...)``) without a ``request`` fixture.

    pytest gives such an argument a pseudo fixture whose function takes
    ``request`` and returns ``request.param``; setting it up builds a new
    fixture definition for ``request`` twice (each with an ``inspect.signature``),
    for every argument of every test: a sixth of a P5 judge's time in pytest.
    :meth:`install` empties those pseudo fixtures' argument lists once per
    prepared suite, and this hook, tried first, gives them the value and the
    cache entry pytest's own ``pytest_fixture_setup`` gives (the ``request``
    they asked for held no finalizer and no state). Any other fixture goes on to pytest's.
    """

    @classmethod
    def install(cls, config, items: list) -> None:
        """Empties the pseudo fixtures' arguments of ``items`` and registers the hook (if there are any)."""
        found = False
        for item in items:
            info = getattr(item, "_fixtureinfo", None)
            for fixturedefs in getattr(info, "name2fixturedefs", {}).values():
                for fixturedef in fixturedefs:
                    if fixturedef.func is get_direct_param_fixture_func and tuple(fixturedef.argnames) == ("request",):
                        fixturedef.argnames = ()
                        found = True
        if found:
            config.pluginmanager.register(cls(), "grader-direct-params")

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.argnames or fixturedef.func is not get_direct_param_fixture_func:
            return None
        key = fixturedef.cache_key(request)
        try:
            value = request.param
        except Exception as exc:  # as pytest's: the error is cached with its traceback, and raised
            fixturedef.cached_result = (None, key, (exc, exc.__traceback__))
            raise
        fixturedef.cached_result = (value, key, None)
        return value


class _StatementRanges:
    """pytest's ``getstatementrange_ast`` for failure tracebacks, remembered per source and line.

    Each failing test's report formats its traceback, and for every entry pytest
    parses the whole file the entry is in (``ast.parse`` and a walk over every
    node: ~3.4 ms for ``test_p5.py``), anew for every failure: its cache lives
    for one traceback. The answer depends only on the source's lines, the line
    and ``assertion`` (a node pytest is given comes from the same file's text
    in the same traceback), so it is remembered, and each text is parsed once, in the forked judge only
    (:meth:`install` is called from :meth:`PreparedSuite.run`; the fork dies
    after its job). A source that does not parse raises every time, as before.
    """

    def __init__(self, compute) -> None:
        self._compute = compute
        self._known: dict = {}
        self._trees: dict = {}  # source lines -> their parsed module, for the file's other lines

    @classmethod
    def install(cls) -> None:
        """Puts the remembering version where pytest's traceback formatting calls it."""
        from _pytest._code import code

        if not isinstance(code.getstatementrange_ast, cls):
            code.getstatementrange_ast = cls(code.getstatementrange_ast)

    def __call__(self, lineno, source, assertion=False, astnode=None):
        lines = tuple(source.lines)
        key = (lineno, assertion, lines)
        known = self._known.get(key)
        if known is None:
            # The same text parses to the same tree: a file's other lines reuse it, as pytest's
            # own cache does within one traceback.
            known = self._known[key] = self._compute(lineno, source, assertion=assertion,
                                                     astnode=self._trees.get(lines))
            self._trees.setdefault(lines, known[0])
        return known


class _HookProxies:
    """A session's ``gethookproxy``, remembered per path while no conftest is added.

    Every ``item.ihook`` asks for it (about fourteen times per test), and each
    time pytest compares the path's conftests with all those registered. In a
    prepared suite every conftest was loaded at collection, so the answer for
    a path stays the same (conftests are added, never removed, during a run).
    """

    def __init__(self, session: Session) -> None:
        self._compute = session.gethookproxy
        self._conftests = session.config.pluginmanager._conftest_plugins
        self._known: dict = {}

    def __call__(self, fspath):
        key = (fspath, len(self._conftests))
        proxy = self._known.get(key)
        if proxy is None:
            proxy = self._known[key] = self._compute(fspath)
        return proxy


class _Overran(Exception):
    """Raised in the worker when preparing a suite takes longer than :data:`PREPARE_SECONDS`."""


def _overran(signum, frame):
    raise _Overran


def prepare(suite: str, seconds: float = PREPARE_SECONDS) -> PreparedSuite | None:
    """Configures pytest and collects ``suite`` (no test runs); None if that failed or overran.

    Called in the worker, never in a fork; the caller still guards against an exception
    (the time limit's signal can land in this function's own clean-up). Its output (there should be none: the
    reporter is quiet until a test runs) goes to ``/dev/null``, not to the grader's terminal.
    """
    stamp = fingerprint(suite)
    os.environ["PYTEST_VERSION"] = pytest.__version__  # as pytest.main sets it while it runs
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    previous = signal.signal(signal.SIGALRM, _overran)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    config = None
    try:
        plugin = GradingPlugin(None, None)
        config = _prepareconfig(pytest_args(suite, prepared=True), plugins=[plugin])
        session = Session.from_config(config)
        config._do_configure()
        config.hook.pytest_sessionstart(session=session)
        config.hook.pytest_collection(session=session)
        if session.testsfailed or session.shouldstop or session.shouldfail:
            return None  # a collection error: pytest.main in the fork reports it
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.stop_global_capturing()  # each fork starts its own, on its own log
        trimmed = _trim(config, session.items)
        if hasattr(config.pluginmanager, "_conftest_plugins"):  # pytest's own, as gethookproxy reads it
            session.gethookproxy = _HookProxies(session)
        prepared = PreparedSuite(suite, config, session, plugin, list(session.items), stamp, trimmed)
        config = None
        return prepared
    except BaseException:  # noqa: BLE001 - the fork's pytest.main reports whatever it was
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if config is not None:
            try:
                config._ensure_unconfigure()
            except BaseException:  # noqa: BLE001
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd, saved_fd in zip((1, 2), saved):
            os.dup2(saved_fd, fd)
            os.close(saved_fd)
        os.environ.pop("PYTEST_VERSION", None)
