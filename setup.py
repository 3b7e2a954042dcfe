"""Build app._native, the C loops of a block's scan (everything else is in pyproject.toml).

The extension is optional: without a C compiler the install goes on and app.native falls back
on the Python reference loops (same answers, slower; `loupe doctor`-style checks and the
bench say which one runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "app._native",
            sources=["app/_native.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall"],
            optional=True,
        )
    ]
)
