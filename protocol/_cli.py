"""The connector CLI contract shared by every tap and target.

    --config FILE|ENV (repeatable)   --about [--format json|markdown|text]
    --discover  --catalog/--properties FILE  --state FILE        (taps)
    --input FILE                                                  (targets)
    --committed-state STATE_ID       (targets that are exactly-once under sluice)
    --test[=all|schema]                                           (both)

``--test`` (``--test=all``) checks the config, then the connection: connect, authenticate,
touch one object; exit 0, or 1 with one line. ``--test=schema`` checks the config only: it is
validated against the settings schema (unknown settings included) and the connector parses
its settings from it, connecting nowhere; exit 0 with "config is valid for <connector>" on
stderr, or 2 listing every problem.

Exit codes (the table is :mod:`protocol._exitcodes`): 0 done, 1 failed at run time, 2 bad usage
or invalid config, 130 interrupted by SIGINT (Ctrl-C), 143 stopped by SIGTERM. Every error
becomes one line on stderr, never a traceback; stdout carries Singer messages only.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import click

from protocol._about import format_about
from protocol._catalog import Catalog
from protocol._config import RedactingFilter, load_config
from protocol._configfiles import read_json_file, secret_values
from protocol._errors import ConfigError, DownstreamClosed, SluiceError, Terminated
from protocol._exitcodes import ExitCode
from protocol._jsoncodec import dumps_pretty
from protocol._logs import setup_logging
from protocol._mapwriter import MappedWriter
from protocol._signals import install as install_signal_handlers
from protocol._writer import MessageWriter

if TYPE_CHECKING:  # a tap never loads the target side of the kit (reader, validators)
    from protocol._tap import Tap
    from protocol._target import Target

__all__ = ["run_cli", "tap_main", "target_main"]

log = logging.getLogger("sluice.cli")


def _silence_stdout() -> None:
    """After a broken pipe, point fd 1 at /dev/null so interpreter shutdown stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_cli(body: Callable[[], None]) -> None:
    """Run a CLI body; turn every error into one stderr line and an exit code.

    SIGTERM and SIGINT become a :class:`Terminated` error raised where the program is, so a
    target unwinds through ``Target.abort()`` (every sink and the destination's transaction roll
    back what was not committed) before exiting; while a COMMIT is in flight it waits for the
    outcome (see :mod:`protocol._signals`).
    The previous handlers are back when it returns or exits.
    """
    restore = install_signal_handlers()
    try:
        body()
    except DownstreamClosed as exc:
        _silence_stdout()
        log.error("%s; stopping", exc)
        sys.exit(exc.exit_code)
    except Terminated as exc:
        log.error("%s", exc)
        _silence_stdout()  # what is still buffered is not covered by a STATE: dropped, not cut in half
        sys.exit(exc.exit_code)
    except SluiceError as exc:
        log.error("%s", exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # SIGINT under the default handler (an embedding program put it back)
        log.error("interrupted by SIGINT (Ctrl-C)")
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        _silence_stdout()
        log.error("the program reading our output closed the pipe; stopping")
        sys.exit(ExitCode.FAILED)
    except Exception as exc:
        debug = log.isEnabledFor(logging.DEBUG)
        log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=debug)
        sys.exit(ExitCode.FAILED)
    finally:
        restore()


def _load(cls: Any, config_sources: tuple[str, ...]) -> dict[str, Any]:
    return load_config(config_sources, connector_name=cls.name, settings_schema=cls.settings_schema)


def _stdout_writer() -> MessageWriter:
    return MessageWriter(sys.stdout.buffer)


def _install_redactor(config: dict[str, Any], cls: Any) -> None:
    extra = getattr(cls, "log_secrets", None)  # a tap's values its schema cannot mark (Tap.log_secrets)
    secrets = secret_values(config, cls.settings_schema) + (extra(config) if extra is not None else [])
    if secrets:
        redactor = RedactingFilter(secrets)
        for handler in logging.getLogger().handlers:
            handler.addFilter(redactor)


class _ConnectorCommand(click.Command):
    """A connector's command. Run as a program (the console script calls it), a successful
    run ends at once: stdout, stderr and the logs are flushed, then the process exits 0 without
    the interpreter's teardown (some 35 ms of module and object clean-up after a sync,
    measured). Everything is durable by then: the writer flushed its last STATE, targets
    committed and closed their sinks, every worker thread has finished. ``main()`` (how
    click's test runner invokes a command) is unchanged."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.main(*args, **kwargs)
        except SystemExit as exc:
            if exc.code in (None, ExitCode.OK):
                _exit_now()
            # the exit code is decided: a Ctrl-C during the interpreter's teardown prints no traceback
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing left to write there
            pass
    logging.shutdown()
    os._exit(ExitCode.OK)


_TEST_HELP = ("Check the config, then {what}: exit 0, or 1 with one line. --test=schema checks the config "
              "only (the settings schema, unknown settings included) and connects nowhere: exit 0, or 2.")
_CONFIG_HELP = "Config JSON file, or ENV to read <CONNECTOR>_<SETTING> variables. Repeatable; merged left to right."
_FORMAT = click.Choice(["json", "markdown", "text"])


def _connector_command(cls: Any, summary: str, test_help: str) -> Callable[[Callable[..., None]], click.Command]:
    """The options every connector shares, around a command body."""

    def wrap(func: Callable[..., None]) -> click.Command:
        for option in reversed([
            click.command(name=cls.name, help=f"{cls.description}\n\n{summary}", cls=_ConnectorCommand,
                          context_settings={"help_option_names": ["-h", "--help"]}),
            click.option("--config", "configs", multiple=True, metavar="FILE|ENV", help=_CONFIG_HELP),
            click.option("--about", is_flag=True, help="Print name, version, capabilities and the settings schema."),
            click.option("--format", "fmt", type=_FORMAT, default=None, help="Format of --about (default text)."),
            click.option("--test", "test", is_flag=False, flag_value="all", default=None,
                         type=click.Choice(["all", "schema"]), help=test_help),
            click.version_option(package_name="sluice", prog_name=cls.name),
        ]):
            func = option(func)
        return func  # type: ignore[return-value]

    return wrap


def _start(cls: Any, configs: tuple[str, ...], about: bool, fmt: str | None, test: str | None) -> Any:
    """Handle --about and --test; otherwise return the configured connector (None: done)."""
    if about:
        click.echo(format_about(cls, fmt or "text"))
        return None
    config = _load(cls, configs)
    _install_redactor(config, cls)
    connector = cls(config)  # parses its settings: the connector's own checks of the config; connects nowhere
    if test == "schema":
        log.info("config is valid for %s", cls.name)
        return None
    if test:
        log.info("connection check passed: %s", connector.test_connection())
        return None
    _say_terminal_input()
    return connector


def _say_terminal_input() -> None:
    """A target or mapper (a command with --input) about to read Singer messages from a terminal would wait
    for typing without a word: say what it waits for."""
    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    if "input_file" not in params or params.get("committed_state") is not None:
        return  # a tap; a target asked for its committed state reads no input
    source = params["input_file"] if params["input_file"] is not None else sys.stdin
    if source.isatty():
        log.info("reading Singer messages from the terminal (stdin); pipe a tap into it or pass --input FILE")


def tap_main(cls: type[Tap]) -> Callable[..., Any]:
    """Build the console-script entry point of a tap."""

    @_connector_command(cls, "A Singer tap: writes SCHEMA, RECORD and STATE lines to stdout.",
                        _TEST_HELP.format(what="the connection (connect, authenticate, read one object)"))
    @click.option("--discover", is_flag=True, help="Print the catalog of available streams and exit.")
    @click.option("--catalog", type=click.Path(dir_okay=False), help="Catalog of selected streams.")
    @click.option("--properties", type=click.Path(dir_okay=False), help="Legacy name for --catalog.")
    @click.option("--state", type=click.Path(dir_okay=False), help="STATE JSON to resume from.")
    def command(configs: tuple[str, ...], about: bool, fmt: str | None, test: str | None, discover: bool,
                catalog: str | None, properties: str | None, state: str | None) -> None:
        setup_logging()

        def body() -> None:
            tap = _start(cls, configs, about, fmt, test)
            if tap is None:
                return
            if discover:
                cat = tap.discover()
                sys.stdout.buffer.write(dumps_pretty(cat.to_dict()).encode() + b"\n")  # numbers exact
                sys.stdout.flush()
                return
            catalog_path = catalog or properties
            if catalog_path:
                selected = _read_catalog(catalog_path)
            else:  # read as its --discover output would be read from a file: what the tap keeps in the
                # metadata only (tap-airbyte's replication key and method) counts the same both ways
                selected = Catalog.from_dict(tap.discover().to_dict())
                for entry in selected:
                    entry.select_all()
            from protocol._state import Bookmarks  # a tap's only: a target starts without the bookmark kinds

            writer = _stdout_writer() if tap.stream_maps is None else MappedWriter(sys.stdout.buffer, tap.stream_maps)
            bookmarks = Bookmarks(_read_state(state))
            writer.resume_from(bookmarks.to_value())
            tap.sync(selected, bookmarks, writer)
            writer.close()

        run_cli(body)

    return command


def _read_catalog(path: str) -> Catalog:
    """The catalog of --catalog FILE; its problems name the file (a config given by mistake, say)."""
    try:
        return Catalog.from_dict(read_json_file(path, "catalog"))
    except ConfigError as exc:
        if path in exc.summary:
            raise
        raise ConfigError(f"catalog file {path}: {exc.summary}", exc.problems) from exc


def _read_state(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    from protocol._state import state_value

    data = state_value(read_json_file(path, "state", exact=True))
    if data is None:
        raise ConfigError(f"state file {path} must hold a JSON object")
    return data


def target_main(cls: type[Target]) -> Callable[..., Any]:
    """Build the console-script entry point of a target."""

    @_connector_command(cls, "A Singer target: reads Singer lines on stdin (or --input).",
                        _TEST_HELP.format(what="the destination (connect, authenticate, touch one object)"))
    @click.option("--input", "input_file", type=click.File("rb"), default=None,
                  help="Read Singer messages from FILE instead of stdin ('-' for stdin).")
    @click.option("--committed-state", "committed_state", metavar="STATE_ID", default=None,
                  hidden=not cls.exactly_once,
                  help="Print the state committed in the destination for STATE_ID as JSON (null: none); "
                       "the sluice runner asks before each run.")
    def command(configs: tuple[str, ...], about: bool, fmt: str | None, test: str | None,
                input_file: IO[bytes] | None, committed_state: str | None) -> None:
        setup_logging()

        def body() -> None:
            if not about:
                cls.start_early()
            target = _start(cls, configs, about, fmt, test)
            if target is None:
                return
            if committed_state is not None:
                if not cls.exactly_once:
                    raise ConfigError(f"{cls.name} does not keep a committed state (no exactly-once support)")
                found = target.load_committed(committed_state)
                sys.stdout.buffer.write((found.to_json() if found is not None else b"null") + b"\n")
                sys.stdout.flush()
                return
            source = input_file if input_file is not None else sys.stdin.buffer
            writer = _stdout_writer()
            target.run(source, writer)
            writer.close()

        run_cli(body)

    return command
