# syntax=docker/dockerfile:1

# Build: the locked dependencies, in a virtual environment of their own.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIPENV_VENV_IN_PROJECT=1
RUN pip install "pipenv>=2026.4"  # reads the Python range in the Pipfile
WORKDIR /app
COPY Pipfile Pipfile.lock ./
# The client package: the server evaluates flags with its rules (a path dependency).
COPY client ./client
RUN pipenv sync

# Run: that environment and the code, as an unprivileged user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app \
    && mkdir /data && chown app /data
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY . .
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/db', timeout=2)"]
CMD ["python", "main.py"]
