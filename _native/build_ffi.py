"""cffi build script for chanpy's native core (setup.py's ``cffi_modules``).

One shared library, two modules:

* ``chanpy._native`` -- the cffi module (``ffi``, ``lib``). Calls through it
  release the GIL, which is what a thread that parks needs and nothing else.
* ``chanpy._fast`` -- ``glue.c``, a plain CPython module compiled into the
  same library (PEP 489 allows several init functions in one file). Its
  entry points keep the GIL: the non-blocking paths and wake-ups go there.

``chp.h`` is both the C header and the cdef (preprocessor lines dropped).
The package version is baked in and checked at import (``chanpy._ffi``).
"""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORE_SOURCES = ["ring.c", "waiter.c", "chan.c", "select.c", "park.c"]


def _version() -> str:
    text = (ROOT / "chanpy" / "_version.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    if match is None:
        raise RuntimeError("chanpy/_version.py has no __version__")
    return match.group(1)


def _cdef() -> str:
    header = (HERE / "chp.h").read_text()
    return "\n".join(
        line for line in header.splitlines() if not line.lstrip().startswith("#")
    )


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "chanpy._native",
    '#include "chp.h"',
    sources=[str((HERE / name).relative_to(ROOT)) for name in [*CORE_SOURCES, "glue.c"]],
    include_dirs=[str(HERE.relative_to(ROOT))],
    define_macros=[
        ("_GNU_SOURCE", None),
        ("CHP_VERSION_STRING", f'"{_version()}"'),
    ],
    extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wno-unused-parameter"],
    # glue.c uses the full C API (fast tuple and refcount macros).
    py_limited_api=False,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
