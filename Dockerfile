# One image for the Python services: server, webhook gateway, gallery and the ClickUp sandbox.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY integrations ./integrations
COPY envconfig ./envconfig
COPY server ./server
COPY graph ./graph
COPY webhook_gateway ./webhook_gateway
COPY clients ./clients
COPY sandbox ./sandbox
COPY devtools ./devtools
RUN pip install . && useradd --system --uid 10001 app
USER app
EXPOSE 50051
CMD ["integrations-server"]
