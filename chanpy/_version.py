"""The package version; build_ffi.py bakes it into the native library."""

__version__ = "0.1.0"
