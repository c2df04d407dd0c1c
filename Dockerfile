# Liandong services: one image, `liandong <command>` (e.g. `liandong run triage`).
# Used by docker-compose.yml; build alone with `docker build -t liandong:0.1.0 .`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/liandong

# The dependencies named in pyproject.toml and sdk/pyproject.toml first, in their own layer (rebuilt
# only when they change); the SDK itself is installed from sdk/ below, not from an index.
COPY pyproject.toml README.md ./
COPY sdk/pyproject.toml sdk/README.md ./sdk/
RUN python -c "import tomllib; deps = [d for f in ('pyproject.toml', 'sdk/pyproject.toml') \
        for d in tomllib.load(open(f, 'rb'))['project']['dependencies'] if not d.startswith('liandong-sdk')]; \
        print('\n'.join(deps))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself. Editable, so that the schemas/, deploy/ and services/triage/routing.yaml
# it reads relative to its sources are found here.
COPY schemas ./schemas
COPY sdk ./sdk
COPY liandong ./liandong
COPY services ./services
COPY deploy ./deploy
RUN pip install --no-deps -e ./sdk -e . \
    && liandong --help > /dev/null \
    && useradd --uid 1000 --user-group --create-home --home-dir /var/lib/liandong --shell /usr/sbin/nologin liandong

# Faust keeps its table state under the working directory: the service user's home.
USER liandong
WORKDIR /var/lib/liandong
ENV LIANDONG_RUN_DIR=/var/lib/liandong/run \
    LIANDONG_BIND_HOST=0.0.0.0 \
    LIANDONG_LOG_JSON=true

# Intake and ledger APIs; /metrics of intake, triage, ledger, monitor and the five units.
EXPOSE 8081 8082 9401 9402 9403 9404 9411 9412 9413 9414 9415

ENTRYPOINT ["liandong"]
CMD ["--help"]
