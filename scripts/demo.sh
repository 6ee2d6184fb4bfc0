#!/usr/bin/env bash
# The quick-start demo: start a throw-away `uploads serve`, upload a sample
# clip through the raw Uploads API (create, parts, complete) exactly as the
# provider's curl example does, print the file id, and check that the content
# the server gives back has the source's MD5. Usage: scripts/demo.sh [BINARY]
set -euo pipefail
bin=${1:-bin/uploads}
for tool in curl md5sum split head; do
  command -v "$tool" >/dev/null || { echo "demo: error: $tool is not installed (apt-get install curl coreutils)" >&2; exit 1; }
done
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --addr 127.0.0.1:0 --data-dir "$work/data" --quiet >"$work/serve.out" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
base=$(head -n1 "$work/serve.out")
[ -n "$base" ] || { echo "demo: error: the server did not start" >&2; exit 1; }
echo "== uploads serve is listening at $base (data in a temporary directory)"

key=sk-demo
auth="Authorization: Bearer $key"
size_mib=${DEMO_MIB:-200}
clip="$work/clip.mp4"
head -c $((size_mib << 20)) /dev/urandom >"$clip"
bytes=$(stat -c %s "$clip")
sum=$(md5sum "$clip" | cut -c1-32)
echo "== made a ${size_mib} MiB sample clip (md5 $sum)"

field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

upload=$(curl -sS --fail-with-body "$base/uploads" -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"filename\":\"clip.mp4\",\"purpose\":\"video\",\"bytes\":$bytes,\"mime_type\":\"video/mp4\"}" | field id)
echo "== created $upload"

split -b 64M -d "$clip" "$work/part."
ids=()
for part in "$work"/part.*; do
  id=$(curl -sS --fail-with-body "$base/uploads/$upload/parts" -H "$auth" -F "data=@$part" | sed 's/"upload_id".*//' | field id)
  ids+=("\"$id\"")
  echo "   part $id ($(stat -c %s "$part") bytes)"
done
list=$(IFS=,; echo "${ids[*]}")
done_json=$(curl -sS --fail-with-body "$base/uploads/$upload/complete" -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"part_ids\":[$list],\"md5\":\"$sum\"}")
file_id=$(printf '%s' "$done_json" | sed 's/.*"file":{//' | field id)
echo "== completed: file id"
echo "$file_id"

got=$(curl -sS --fail-with-body "$base/files/$file_id/content" -H "$auth" | md5sum | cut -c1-32)
if [ "$got" != "$sum" ]; then
  echo "demo: error: downloaded content has md5 $got, want $sum" >&2
  exit 1
fi
echo "== downloaded content matches the source (md5 $got)"
