#!/usr/bin/env bash
# Upload a file through the Uploads API with curl, the way the API reference
# shows it: create the upload, split the file into parts, send the parts one
# after another as multipart `data` fields, then complete with the part ids in
# order and the file's MD5 (from md5sum). Prints the resulting file id.
#
#   OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=sk-x \
#     scripts/curl-upload.sh clip.mp4 video video/mp4
#
#   # against `uploads serve --tls --data-dir DIR` (its self-signed certificate):
#   OPENAI_BASE_URL=https://127.0.0.1:8089/v1 OPENAI_API_KEY=sk-x CA_CERT=DIR/tls/cert.pem \
#     scripts/curl-upload.sh clip.mp4 video video/mp4
#
# Usage: scripts/curl-upload.sh FILE PURPOSE MIME_TYPE
# Environment: OPENAI_BASE_URL (default https://api.openai.com/v1),
# OPENAI_API_KEY (required), PART_SIZE (split's -b, default 64M), TMPDIR
# (where the parts are written), CA_CERT (a PEM file of the certificate
# authority to trust instead of the system's, given to every curl as
# --cacert; curl does not read SSL_CERT_FILE), HTTP_VERSION (1.1 or 2: every
# curl gets --http1.1 or --http2; unset: curl's default, HTTP/2 where the
# server offers it over TLS), CURL_UPLOAD_TIMES (a file to
# which the CPU time used so far is appended after each step, as bash's
# `times` prints it under the step's name: create, split, parts, md5, complete).
#
# It is a baseline of scripts/benchpeers. Note its cost beyond the network:
# `split` writes the whole file to disk a second time (into a temporary
# directory under TMPDIR, removed on exit), and md5sum reads it a third time.
# The "parts" step is curl alone sending the bytes (each part a new curl, a
# new connection, over HTTPS a new TLS handshake): benchpeers takes its CPU,
# from CURL_UPLOAD_TIMES, as the cost of curl sending the file.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: curl-upload.sh FILE PURPOSE MIME_TYPE" >&2
  exit 2
fi
file=$1 purpose=$2 mime_type=$3
base=${OPENAI_BASE_URL:-https://api.openai.com/v1}
base=${base%/}
: "${OPENAI_API_KEY:?curl-upload.sh: set OPENAI_API_KEY}"
for tool in curl split md5sum stat; do
  command -v "$tool" >/dev/null || { echo "curl-upload.sh: $tool is not installed" >&2; exit 1; }
done
auth="Authorization: Bearer $OPENAI_API_KEY"
curl_opts=(-sS --fail-with-body)
if [ -n "${CA_CERT:-}" ]; then
  curl_opts+=(--cacert "$CA_CERT")
fi
case ${HTTP_VERSION:-} in
  "") ;;
  1.1) curl_opts+=(--http1.1) ;;
  2) curl_opts+=(--http2) ;;
  *) echo "curl-upload.sh: HTTP_VERSION must be 1.1 or 2, not $HTTP_VERSION" >&2; exit 2 ;;
esac

# mark STEP appends the CPU time used so far (bash's `times`: the shell's own,
# then its children's, user and system) to $CURL_UPLOAD_TIMES, when set.
mark() {
  if [ -n "${CURL_UPLOAD_TIMES:-}" ]; then
    { echo "$1"; times; } >>"$CURL_UPLOAD_TIMES"
  fi
}

# json_string prints its argument as a JSON string (quotes and backslashes escaped).
json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# field NAME PREFIX JSON sets $value to the first value of NAME in the JSON
# object that starts with PREFIX ("" if none), without starting a process.
field() {
  value=
  local re="\"$1\": *\"($2[^\"]*)\""
  if [[ $3 =~ $re ]]; then
    value=${BASH_REMATCH[1]}
  fi
}

bytes=$(stat -c %s -- "$file")
filename=$(basename -- "$file")

# 1. Create the upload.
created=$(curl "${curl_opts[@]}" "$base/uploads" -H "$auth" -H "Content-Type: application/json" \
  -d "{\"purpose\": $(json_string "$purpose"), \"filename\": $(json_string "$filename"), \"bytes\": $bytes, \"mime_type\": $(json_string "$mime_type")}")
field id upload_ "$created"
upload_id=$value
[ -n "$upload_id" ] || { echo "curl-upload.sh: no upload id in: $created" >&2; exit 1; }
mark create

# 2. Split the file into parts (this writes the whole file again).
parts_dir=$(mktemp -d)
trap 'rm -rf "$parts_dir"' EXIT
split -b "${PART_SIZE:-64M}" -d -a 5 -- "$file" "$parts_dir/part-"
mark split

# 3. Send the parts one by one, in order.
part_ids=
for part in "$parts_dir"/part-*; do
  added=$(curl "${curl_opts[@]}" "$base/uploads/$upload_id/parts" -H "$auth" -F "data=@$part")
  field id part_ "$added"
  [ -n "$value" ] || { echo "curl-upload.sh: no part id in: $added" >&2; exit 1; }
  part_ids+="${part_ids:+, }\"$value\""
done
mark parts

# 4. Complete with the part ids in order and the whole file's MD5.
md5=$(md5sum -- "$file" | cut -c1-32)
mark md5
completed=$(curl "${curl_opts[@]}" "$base/uploads/$upload_id/complete" -H "$auth" -H "Content-Type: application/json" \
  -d "{\"part_ids\": [$part_ids], \"md5\": \"$md5\"}")
field id file- "$completed"
[ -n "$value" ] || { echo "curl-upload.sh: no file id in: $completed" >&2; exit 1; }
mark complete
echo "$value"
