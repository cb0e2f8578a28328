"""The only module that touches the native library.

Exports ``ffi``/``lib`` (the cffi module ``chanpy._native``; its calls release
the GIL) and ``fast`` (``chanpy._fast``, GIL-held entry points compiled into
the same shared library). See docs/design.md for why there are two.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from types import ModuleType
from typing import Any

from chanpy import _native  # type: ignore[attr-defined]
from chanpy._version import __version__

__all__ = ["fast", "ffi", "lib"]

ffi: Any = _native.ffi
lib: Any = _native.lib


def _load_fast() -> ModuleType:
    # PEP 489: the shared library also exports PyInit__fast; load that
    # module from the same file under its own name.
    name = "chanpy._fast"
    loader = importlib.machinery.ExtensionFileLoader(name, _native.__file__)
    spec = importlib.util.spec_from_file_location(name, _native.__file__, loader=loader)
    if spec is None:  # pragma: no cover - only if the file vanished
        raise ImportError(f"cannot load {name} from {_native.__file__}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


fast: Any = _load_fast()  # a C module: typed by the modules that use it

_built = ffi.string(lib.chp_version()).decode()
if _built != __version__ or fast.version() != __version__:
    raise ImportError(
        f"chanpy {__version__} found a native library built for {_built}: "
        "rebuild it with `pip install -e .` (or `make dev`)"
    )
