#!/usr/bin/env bash
# fetch-assets.sh — re-download the charting library that package dashboard
# embeds (uPlot), verify it, and (with --write) copy it into
# web/dashboard/assets/vendor/.
#
# Provenance: the files are the unmodified builds from the npm package below
# (dist/uPlot.iife.min.js defines the global uPlot; dist/uPlot.min.css), plus
# its MIT LICENSE. Everything else under assets/ is hand-written and needs no
# build step.
#
# The committed files are what the build uses (go:embed); the build never
# needs npm. The sha384 values here must equal the SRI constants in
# web/dashboard/vendor.go; dashboard_test.go checks the embedded bytes
# against those.
#
# Usage:
#   web/dashboard/fetch-assets.sh           download into a temp dir, verify
#                                           hashes, compare with the committed
#                                           files (no writes)
#   web/dashboard/fetch-assets.sh --write   same, then copy the verified files
#                                           into web/dashboard/assets/vendor/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/assets/vendor"
write=0
case "${1:-}" in
  "") ;;
  --write) write=1 ;;
  *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

# npm spec | file in package | path under assets/vendor | sha384 (SRI)
assets=(
  "uplot@1.6.32|dist/uPlot.iife.min.js|uplot-1.6.32/uPlot.iife.min.js|sha384-Gx3t0zdBAuQOuvvmaLZj7HKEiSgWTAs+VdtNY7wt19QDPTDQjFIwAuXDj0zeN00c"
  "uplot@1.6.32|dist/uPlot.min.css|uplot-1.6.32/uPlot.min.css|sha384-IfV0B7MIOYuO95kO9G5ySKPz/85zqFNOAs8iy4tkK5zd9izhJAB8b7lHrwYqqmYE"
  "uplot@1.6.32|LICENSE|uplot-1.6.32/LICENSE|sha384-LBMwZlHtMnim4BBA9gOI4OOPUI5cNjaxzIZCJRYYEyIykienqB4X7/vxq0t1Ihgd"
)

sri() { # sri FILE -> sha384-base64
  printf 'sha384-%s' "$(openssl dgst -sha384 -binary "$1" | base64 | tr -d '\n')"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

declare -A unpacked=()
for row in "${assets[@]}"; do
  IFS='|' read -r spec _ _ _ <<<"$row"
  [[ -n "${unpacked[$spec]:-}" ]] && continue
  dir="$tmp/$(printf '%s' "$spec" | tr '@/' '__')"
  mkdir -p "$dir"
  tgz="$(cd "$dir" && npm pack --silent "$spec" | tail -n1)"
  tar -xzf "$dir/$tgz" -C "$dir"
  unpacked[$spec]="$dir/package"
done

fail=0
for row in "${assets[@]}"; do
  IFS='|' read -r spec src rel want <<<"$row"
  f="${unpacked[$spec]}/$src"
  if [[ ! -f "$f" ]]; then
    echo "MISSING  $spec:$src" >&2; fail=1; continue
  fi
  if [[ "$(sri "$f")" != "$want" ]]; then
    echo "MISMATCH $spec:$src got $(sri "$f") want $want" >&2; fail=1; continue
  fi
  committed="unchanged"
  if [[ ! -f "$dest/$rel" ]]; then committed="absent"
  elif ! cmp -s "$f" "$dest/$rel"; then committed="DIFFERS"; fi
  printf '%-8s %8d  %-40s committed: %s\n' verified "$(stat -c%s "$f")" "$rel" "$committed"
  if [[ $write == 1 ]]; then
    mkdir -p "$(dirname "$dest/$rel")"
    cp "$f" "$dest/$rel"
    chmod 0644 "$dest/$rel"
  elif [[ $committed != unchanged ]]; then
    fail=1
  fi
done

if [[ $fail != 0 ]]; then
  echo "fetch-assets: FAILED" >&2
  exit 1
fi
if [[ $write == 1 ]]; then
  echo "fetch-assets: wrote verified files to $dest"
else
  echo "fetch-assets: all files verified and identical to the committed ones"
fi
