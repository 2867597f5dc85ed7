#!/usr/bin/env bash
# A fully local demo: serves samples/images on 127.0.0.1:8765, runs imgbatch with its data in a
# temporary directory, uploads samples/local-demo.csv and prints the output CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d)
port=${IMGBATCH_DEMO_PORT:-8080}
cleanup() { kill "${images_pid:-}" "${app_pid:-}" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

if curl -s -o /dev/null "http://127.0.0.1:8765/" || curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "demo: port 8765 or $port is already in use; stop what listens there (or set IMGBATCH_DEMO_PORT)" >&2
  exit 1
fi
python3 -m http.server 8765 --bind 127.0.0.1 --directory samples/images >/dev/null 2>&1 &
images_pid=$!
cargo build --release --quiet
IMGBATCH_BIND=127.0.0.1:$port IMGBATCH_ALLOW_PRIVATE_URLS=true \
  DATABASE_URL="sqlite://$data/imgbatch.db?mode=rwc" IMGBATCH_STORAGE="$data/files" \
  ./target/release/imgbatch serve >"$data/imgbatch.log" 2>&1 &
app_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
# The admin account's API key, printed once by the first start of the fresh database.
key=$(grep -oE 'ib_[A-Za-z0-9_-]+' "$data/imgbatch.log" | head -n 1)
auth="Authorization: Bearer $key"

echo "== upload"
answer=$(curl -sS -H "$auth" -F file=@samples/local-demo.csv "$base/api/v1/requests")
echo "$answer"
id=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')

echo "== progress"
while :; do
  status=$(curl -sS -H "$auth" "$base/api/v1/requests/$id")
  echo "$status"
  case "$status" in *'"status":"completed'*|*'"status":"failed"'*) break ;; esac
  sleep 0.5
done

echo "== output CSV"
curl -sS -H "$auth" "$base/api/v1/requests/$id/output.csv"
echo "== Swagger UI was at $base/swagger-ui/ (stopped now)"
