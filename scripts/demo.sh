#!/usr/bin/env bash
# The quick-start demo: start a throw-away `uploads serve --tls` on a free port
# (HTTPS with HTTP/2 offered, as the real service; its self-signed certificate
# trusted through UPLOADS_CA_CERT),
# make a sample clip, `uploads put` it with its progress visible, print the
# file id, check that the content the server gives back has the source's MD5,
# and stop the server. Usage: scripts/demo.sh [BINARY]   (DEMO_MIB=300 by default)
set -euo pipefail
bin=${1:-bin/uploads}
for tool in md5sum head; do
  command -v "$tool" >/dev/null || { echo "demo: error: $tool is not installed (apt-get install coreutils)" >&2; exit 1; }
done
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --tls --addr 127.0.0.1:0 --data-dir "$work/data" --quiet >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
base=$(head -n1 "$work/serve.out")
[ -n "$base" ] || { echo "demo: error: the server did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
echo "== uploads serve is listening at $base (data in a temporary directory)"

export OPENAI_BASE_URL=$base OPENAI_API_KEY=sk-demo XDG_STATE_HOME=$work/state UPLOADS_CA_CERT=$work/data/tls/cert.pem
size_mib=${DEMO_MIB:-300}
clip="$work/clip.mp4"
head -c $((size_mib << 20)) /dev/urandom >"$clip"
sum=$(md5sum "$clip" | cut -c1-32)
echo "== made a ${size_mib} MiB sample clip (md5 $sum)"
echo "== uploads put clip.mp4 --purpose video"

start=$(date +%s%N)
# stdout is the file id; the progress (a bar on a terminal) goes to stderr.
file_id=$(cd "$work" && "$OLDPWD/$bin" put clip.mp4 --purpose video)
ms=$((($(date +%s%N) - start) / 1000000))
echo "== completed in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; file id:"
echo "$file_id"

got=$("$bin" files content "$file_id" | md5sum | cut -c1-32)
if [ "$got" != "$sum" ]; then
  echo "demo: error: downloaded content has md5 $got, want $sum" >&2
  exit 1
fi
echo "== downloaded content matches the source (md5 $got)"
"$bin" files get "$file_id" --format text 2>/dev/null || true
