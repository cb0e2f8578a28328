"""``python -m chanpy_patterns COMMAND [ARGS]``: the bot runtime's commands.

Each command is a module with a ``main(argv, prog=...) -> int``, imported
only when it runs (the demo's and the benchmark's dependencies stay
optional, and ``--help`` stays fast).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Final

PROG: Final = "python -m chanpy_patterns"
EXIT_USAGE: Final = 2

# command -> (module, function, one line of help). A new command is one more row.
COMMANDS: Final[dict[str, tuple[str, str, str]]] = {
    "demo": ("chanpy_patterns.demo", "main", "a simulated world of bots, with a live dashboard"),
    "bench": ("chanpy_patterns.bench_fleet", "main", "the fleet benchmark, against its peers"),
}


def usage() -> str:
    """The top-level help: the commands and what they do."""
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, _, text) in COMMANDS.items())
    return (
        f"usage: {PROG} COMMAND [ARGS]\n\ncommands:\n{rows}\n\n"
        f"'{PROG} COMMAND --help' describes a command's arguments."
    )


def _load(name: str) -> Callable[..., int | None] | None:
    """The command's main function, or None if its module is not there (yet)."""
    module_name, func, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # the module is there but needs something missing
            raise
        return None
    main: Callable[..., int | None] = getattr(module, func)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a command; returns its exit status (2: no or unknown command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"{usage()}\n\n{PROG}: error: unknown command {name!r}", file=sys.stderr)
        return EXIT_USAGE
    command = _load(name)
    if command is None:
        print(f"{PROG}: error: the {name!r} command is not available here", file=sys.stderr)
        return EXIT_USAGE
    try:
        code = command(rest, prog=f"{PROG} {name}")
    except SystemExit as exc:  # argparse's exit 2, --help's exit 0
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0 if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())
