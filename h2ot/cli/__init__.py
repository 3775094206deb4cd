"""The ``h2ot`` command line: one thin module per command (``register(subparsers)`` adds its options,
``run(args)`` imports the library and does the job), so ``h2ot --help`` loads no model code."""
from __future__ import annotations

import argparse
import logging
import os
import sys

COMMANDS = ("profile", "export", "data", "eval", "bench", "train", "infer")  # modules of h2ot.cli, in help order


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: ``h2ot lift: error: argument --fps: ... (h2ot lift --help)``,
    exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from h2ot import __version__

    parser = Parser(prog="h2ot", description="Efficient video 3D human pose estimation (H2OT).")
    parser.add_argument("--version", action="version", version=f"h2ot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"h2ot.cli.{name}").register(commands)
    return parser


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(error).__name__


def _os_message(error: OSError) -> str:
    """One line for a file-system error: what happened and to which file."""
    where = " → ".join(str(f) for f in (error.filename, error.filename2) if f is not None)
    reason = error.strerror or str(error)
    return f"{where}: {reason}" if where else reason


def main(argv: list[str] | None = None) -> int:
    """Run one command. A user error (a bad value, file or model) prints one line ``h2ot CMD: error: ...``
    and returns 2; an interruption returns 130; anything else is a bug in h2ot: one line that says so and
    exit code 1 (``H2OT_DEBUG=1`` shows the traceback)."""
    from h2ot.threads import prepare_process

    prepare_process()  # before PyTorch is imported: OpenMP's waiting threads spin only briefly
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    handler = logging.StreamHandler(sys.stderr)  # the library logs to "h2ot"; the command line shows it
    handler.setFormatter(logging.Formatter(f"h2ot {args.command}: %(message)s"))
    logger = logging.getLogger("h2ot")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"h2ot {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # permissions, a full disk, a path through a file, ...
        print(f"h2ot {args.command}: error: {_os_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"h2ot {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 — a bug: say so in one line unless debugging
        if os.environ.get("H2OT_DEBUG"):
            raise
        print(f"h2ot {args.command}: internal error: {type(error).__name__}: {_one_line(error)} (a bug in h2ot; "
              "run with H2OT_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
        return 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
