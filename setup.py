"""Builds the optional C fast path of the OTLP decoder (collector/_wire.c); the metadata is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and the collector uses the Python walker
(`inferwatch.collector.otlp_wire.COMPILED` is then False).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "inferwatch.collector._wire",
            sources=["collector/_wire.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
