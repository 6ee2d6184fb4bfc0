#!/usr/bin/env bash
# Upload a file through the Uploads API with curl, the way the API reference
# shows it: create the upload, split the file into parts, send the parts one
# after another as multipart `data` fields, then complete with the part ids in
# order and the file's MD5 (from md5sum). Prints the resulting file id.
#
#   OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=sk-x \
#     scripts/curl-upload.sh clip.mp4 video video/mp4
#
# Usage: scripts/curl-upload.sh FILE PURPOSE MIME_TYPE
# Environment: OPENAI_BASE_URL (default https://api.openai.com/v1),
# OPENAI_API_KEY (required), PART_SIZE (split's -b, default 64M), TMPDIR
# (where the parts are written).
#
# It is a baseline of scripts/benchpeers. Note its cost beyond the network:
# `split` writes the whole file to disk a second time (into a temporary
# directory under TMPDIR, removed on exit), and md5sum reads it a third time.
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

# json_string prints its argument as a JSON string (quotes and backslashes escaped).
json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# field NAME PREFIX reads a JSON object on stdin and prints the first value of
# NAME that starts with PREFIX.
field() {
  grep -o "\"$1\": *\"$2[^\"]*\"" | head -n1 | sed 's/.*: *"\(.*\)"/\1/'
}

bytes=$(stat -c %s -- "$file")
filename=$(basename -- "$file")

# 1. Create the upload.
created=$(curl -sS --fail-with-body "$base/uploads" -H "$auth" -H "Content-Type: application/json" \
  -d "{\"purpose\": $(json_string "$purpose"), \"filename\": $(json_string "$filename"), \"bytes\": $bytes, \"mime_type\": $(json_string "$mime_type")}")
upload_id=$(field id upload_ <<<"$created")
[ -n "$upload_id" ] || { echo "curl-upload.sh: no upload id in: $created" >&2; exit 1; }

# 2. Split the file into parts (this writes the whole file again).
parts_dir=$(mktemp -d)
trap 'rm -rf "$parts_dir"' EXIT
split -b "${PART_SIZE:-64M}" -d -a 5 -- "$file" "$parts_dir/part-"

# 3. Send the parts one by one, in order.
part_ids=
for part in "$parts_dir"/part-*; do
  added=$(curl -sS --fail-with-body "$base/uploads/$upload_id/parts" -H "$auth" -F "data=@$part")
  part_id=$(field id part_ <<<"$added")
  [ -n "$part_id" ] || { echo "curl-upload.sh: no part id in: $added" >&2; exit 1; }
  part_ids+="${part_ids:+, }\"$part_id\""
done

# 4. Complete with the part ids in order and the whole file's MD5.
md5=$(md5sum -- "$file" | cut -c1-32)
completed=$(curl -sS --fail-with-body "$base/uploads/$upload_id/complete" -H "$auth" -H "Content-Type: application/json" \
  -d "{\"part_ids\": [$part_ids], \"md5\": \"$md5\"}")
file_id=$(field id file- <<<"$completed")
[ -n "$file_id" ] || { echo "curl-upload.sh: no file id in: $completed" >&2; exit 1; }
echo "$file_id"
