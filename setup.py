"""Build app._native, the C loops of a block's scan, and app._hsscan, the signature literals'
Hyperscan pass without a Python call per match (everything else is in pyproject.toml).

Both extensions are optional: without a C compiler the install goes on and app.native falls
back on the Python reference loops (same answers, slower; `loupe doctor`-style checks and the
bench say which one runs). app._hsscan is built only where Hyperscan's headers and library are
installed (Debian: `apt-get install libhyperscan-dev`, which brings the run-time libhs5 too);
without it, or when libhs cannot be loaded, the matcher calls Hyperscan through the hyperscan
package, one Python call per match.
"""

from pathlib import Path

from setuptools import Extension, setup


def _hyperscan_installed() -> bool:
    """Whether Hyperscan's headers and shared library are installed."""
    for prefix in (Path("/usr"), Path("/usr/local")):
        folders = (prefix / "lib/x86_64-linux-gnu", prefix / "lib64", prefix / "lib")
        if (prefix / "include/hs/hs.h").is_file() and any(
            (folder / "libhs.so").exists() for folder in folders
        ):
            return True
    return False


extensions = [
    Extension(
        "app._native",
        sources=["app/_native.c"],
        extra_compile_args=["-O3", "-std=c11", "-Wall"],
        optional=True,
    )
]
if _hyperscan_installed():
    extensions.append(
        Extension(
            "app._hsscan",
            sources=["app/_hsscan.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall"],
            libraries=["hs"],
            optional=True,
        )
    )

setup(ext_modules=extensions)
