"""Checks docker-compose.yml without a container engine: it must parse, name the whole stack,
give every long-running server a healthcheck, and build the API and workers from the Dockerfile."""
import pathlib
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
services = compose["services"]
problems = []
for name in ["postgres", "redis", "s3", "api", "worker"]:
    if name not in services:
        problems.append(f"service {name} is missing")
for name in ["postgres", "redis", "s3", "api"]:
    if "healthcheck" not in services.get(name, {}):
        problems.append(f"service {name} has no healthcheck")
for name in ["api", "worker"]:
    service = services.get(name, {})
    if service.get("build") != ".":
        problems.append(f"service {name} is not built from the repository")
    env = service.get("environment", {})
    for key in ["DATABASE_URL", "REDIS_URL", "IMGBATCH_STORAGE", "IMGBATCH_PUBLIC_URL"]:
        if key not in env:
            problems.append(f"service {name} lacks {key}")
worker = services.get("worker", {})
if "container_name" in worker or "ports" in worker:
    problems.append("the worker service cannot be scaled with a fixed name or port")
if not (root / "Dockerfile").is_file():
    problems.append("Dockerfile is missing")
for problem in problems:
    print(f"docker-compose.yml: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"docker-compose.yml: {len(services)} services parse and check out")
