# syntax=docker/dockerfile:1
# One image for every Herald process. The command picks the process:
#   python -m services.gateway | scheduler | publisher | inbox | metrics
#   python -m sandbox                       (the fake networks; development only)
#   python -m shared.migrations upgrade     (one-shot: migrates every service's schema)
# docker-compose.yml and deploy/k8s/ set the command and the environment per process.

# The web console: the TypeScript client, then the Vite build the gateway serves at /console.
FROM node:20-slim AS console
WORKDIR /src
COPY clients/typescript/package.json clients/typescript/package-lock.json clients/typescript/
RUN cd clients/typescript && npm ci --no-audit --no-fund
COPY console/package.json console/package-lock.json console/
COPY clients/typescript clients/typescript
RUN cd clients/typescript && npm run build \
 && cd ../../console && npm ci --no-audit --no-fund
COPY console console
RUN cd console && npm run build


FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first (pyproject.toml and the pinned versions only), so a code change does not
# reinstall them. constraints.txt fixes every version, the image runs what `make test` tested.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/python -c "import subprocess, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.run(['/opt/venv/bin/pip', 'install', '-c', 'constraints.txt', *deps], check=True)"
COPY shared ./shared
COPY services ./services
COPY sandbox ./sandbox
COPY deploy ./deploy
RUN /opt/venv/bin/pip install --no-deps .


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 herald \
 && useradd --system --uid 10001 --gid herald --home-dir /app --shell /usr/sbin/nologin herald

COPY --from=build /opt/venv /opt/venv

# `herald-healthcheck [port]`: exit 0 when GET /healthz answers 200. Without a port it finds the
# process's own one the way its settings do (<NAME>_PORT, then HERALD_PORT, then the default),
# from the module PID 1 runs. Uses only the standard library: the image has no curl.
COPY --chmod=0755 <<'EOF' /usr/local/bin/herald-healthcheck
#!/opt/venv/bin/python
import os
import sys
import urllib.request

DEFAULTS = {
    "services.gateway": ("GATEWAY", 8000),
    "services.scheduler": ("SCHEDULER", 8001),
    "services.publisher": ("PUBLISHER", 8002),
    "services.inbox": ("INBOX", 8003),
    "services.metrics": ("METRICS", 8004),
    "sandbox": ("SANDBOX", 8010),
}


def own_port():
    try:
        with open("/proc/1/cmdline", "rb") as f:
            argv = f.read().decode().split("\0")
    except OSError:
        return None
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
    if module not in DEFAULTS:
        return None
    prefix, default = DEFAULTS[module]
    fallback = os.environ.get("HERALD_PORT") if prefix != "SANDBOX" else None
    return int(os.environ.get(f"{prefix}_PORT") or fallback or default)


port = int(sys.argv[1]) if len(sys.argv) > 1 else own_port()
if port is None:
    sys.exit(0)  # not an HTTP process (the migration job): nothing to check
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception as exc:  # noqa: BLE001
    print(f"healthz on port {port}: {exc}", file=sys.stderr)
    sys.exit(1)
EOF

WORKDIR /app
# The source stays next to the installed package: the Alembic trees (env.py, script.py.mako,
# versions/) are read from services/<name>/migrations.
COPY --from=build --chown=root:root /src/shared ./shared
COPY --from=build --chown=root:root /src/services ./services
COPY --from=build --chown=root:root /src/sandbox ./sandbox
COPY --from=build --chown=root:root /src/deploy ./deploy
COPY --from=build --chown=root:root /src/pyproject.toml ./
COPY --from=console --chown=root:root /src/console/dist ./console/dist

USER 10001:10001

EXPOSE 8000 8001 8002 8003 8004 8010

# Services stop on SIGTERM: stop consuming, return unacknowledged messages, flush the outbox.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["herald-healthcheck"]

# No default service: compose and the k8s manifests set the command. This one prints the choices.
CMD ["python", "-c", "print('choose a command: python -m services.<gateway|scheduler|publisher|inbox|metrics>, python -m sandbox, or python -m shared.migrations upgrade')"]
