# utility-meters on a NAS: `make run` on a schedule (docker/schedule.sh).
# Installed as on a workstation, `make .venv/.installed`, but with only what
# runs (REQUIREMENTS=requirements.txt): no test or lint tools in the image.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install --yes --no-install-recommends make tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

ENV REQUIREMENTS=requirements.txt

# Dependencies first, so a code change does not reinstall them.
COPY Makefile requirements.txt constraints.txt ./
RUN make .venv/.installed PYTHON=python3 \
    && rm -rf /root/.cache/pip

COPY . .

# The pipeline runs as an unprivileged user; it writes only under /data.
RUN useradd --system --uid 10001 --user-group --create-home meters \
    && mkdir -p /data \
    && chown meters:meters /data
USER meters

ENV DATA_DIR=/data \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]

CMD ["docker/schedule.sh"]
