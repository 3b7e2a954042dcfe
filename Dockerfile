# The logloupe app image: the same image runs `loupe serve`, `loupe worker` and `loupe migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_MMAP_THRESHOLD_=268435456 \
    MALLOC_TRIM_THRESHOLD_=1073741824 \
    LOUPE_HOST=0.0.0.0 \
    LOUPE_AUTH=local \
    LOUPE_PORT=8000 \
    LOUPE_DATA_DIR=/data

# libcairo2: ladder.png (CairoSVG); without it the PNG download answers 503 with the reason.
# gcc and libc6-dev build app._native (setup.py), the scan's C loops; without them the
# Python loops run (same results, slower). libhyperscan-dev builds app._hsscan, the signature
# literals' Hyperscan pass with no Python call per match (and brings libhs5 to run it; x86-64
# only, as Hyperscan); without it the hyperscan package's per-match callback runs (same
# results, slower)
RUN apt-get update && apt-get install -y --no-install-recommends libcairo2 gcc libc6-dev \
        $([ "$(dpkg --print-architecture)" = amd64 ] && echo libhyperscan-dev) \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# dependencies first, so a code change does not reinstall them
COPY pyproject.toml setup.py README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && pip uninstall -y logloupe && rm -r app

COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY app ./app
# editable: templates, static files and migrations are found next to the package; compiled
# here, as PYTHONDONTWRITEBYTECODE would otherwise compile app/ at every start of every process
RUN pip install --no-deps -e . \
    && python -m compileall -q app \
    && useradd --uid 10001 --user-group --no-create-home loupe \
    && mkdir -p /data && chown loupe:loupe /data

USER loupe
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["loupe", "serve"]
