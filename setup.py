"""Only here for cffi: setuptools builds the native core through cffi_modules."""

from setuptools import setup

setup(cffi_modules=["_native/build_ffi.py:ffibuilder"])
