#!/usr/bin/env bash
# fetch-assets.sh — re-download the GraphiQL browser assets that package web
# embeds, verify them, and (with --write) copy them into web/assets/graphiql/.
#
# Provenance: the files are the unmodified UMD/CSS builds from the npm
# packages below. They are the same versions, and for graphiql, react and
# react-dom the same bytes (same sha256), that gqlgen v0.17.95's
# graphql/playground page loads from jsDelivr by default. The explorer plugin
# CSS is the package's dist/style.css (gqlgen loads jsDelivr's auto-minified
# style.min.css, which npm does not ship, so its sha256 differs).
#
# The committed files are what the build uses (go:embed); the build never
# needs npm. The sha384 values here must equal the SRI constants in
# web/assets.go; web_test.go checks the embedded bytes against those.
#
# Usage:
#   web/fetch-assets.sh           download into a temp dir, verify hashes, and
#                                 compare with the committed files (no writes)
#   web/fetch-assets.sh --write   same, then copy the verified files into
#                                 web/assets/graphiql/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/assets/graphiql"
write=0
case "${1:-}" in
  "") ;;
  --write) write=1 ;;
  *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

# npm spec | file in package | path under assets/graphiql | sha384 (SRI) | sha256 gqlgen pins ("-" = none)
assets=(
  "graphiql@4.1.2|graphiql.min.js|graphiql-4.1.2/graphiql.min.js|sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B|sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
  "graphiql@4.1.2|graphiql.min.css|graphiql-4.1.2/graphiql.min.css|sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr|sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
  "graphiql@4.1.2|LICENSE|graphiql-4.1.2/LICENSE|-|-"
  "react@18.2.0|umd/react.production.min.js|react-18.2.0/react.production.min.js|sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8|sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
  "react@18.2.0|LICENSE|react-18.2.0/LICENSE|-|-"
  "react-dom@18.2.0|umd/react-dom.production.min.js|react-dom-18.2.0/react-dom.production.min.js|sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh|sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
  "react-dom@18.2.0|LICENSE|react-dom-18.2.0/LICENSE|-|-"
  "@graphiql/plugin-explorer@4.0.6|dist/index.umd.js|plugin-explorer-4.0.6/index.umd.js|sha384-gXYG2RCFRuAiKUaKTbKxOVlvr0U9z0D/V/l5jdvRSH46vQ+9cpkG2d3ByiggUYvD|sha256-UM8sWOS0Xa9yLY85q6Clh0pF4qpxX+TOcJ41flECqBs="
  "@graphiql/plugin-explorer@4.0.6|dist/style.css|plugin-explorer-4.0.6/style.css|sha384-XffIsImDMwexX8UM/Bg3tss0MZOeQmZcnHzk0avUrw9ff0IQ2g9j7QLA6m2lz5D0|-"
)

sri() { # sri ALGO FILE -> ALGO-base64
  printf '%s-%s' "$1" "$(openssl dgst "-$1" -binary "$2" | base64 | tr -d '\n')"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One npm pack per distinct package spec, each unpacked into its own dir.
declare -A unpacked=()
for row in "${assets[@]}"; do
  IFS='|' read -r spec _ _ _ _ <<<"$row"
  [[ -n "${unpacked[$spec]:-}" ]] && continue
  dir="$tmp/$(printf '%s' "$spec" | tr '@/' '__')"
  mkdir -p "$dir"
  tgz="$(cd "$dir" && npm pack --silent "$spec" | tail -n1)"
  tar -xzf "$dir/$tgz" -C "$dir"
  unpacked[$spec]="$dir/package"
done

fail=0
for row in "${assets[@]}"; do
  IFS='|' read -r spec src rel want384 want256 <<<"$row"
  f="${unpacked[$spec]}/$src"
  if [[ ! -f "$f" ]]; then
    echo "MISSING  $spec:$src" >&2; fail=1; continue
  fi
  status=ok
  if [[ "$want384" != "-" && "$(sri sha384 "$f")" != "$want384" ]]; then
    echo "MISMATCH $spec:$src sha384 got $(sri sha384 "$f") want $want384" >&2; status=bad
  fi
  if [[ "$want256" != "-" && "$(sri sha256 "$f")" != "$want256" ]]; then
    echo "MISMATCH $spec:$src sha256 got $(sri sha256 "$f") want $want256 (gqlgen default)" >&2; status=bad
  fi
  if [[ $status != ok ]]; then fail=1; continue; fi
  committed="unchanged"
  if [[ ! -f "$dest/$rel" ]]; then committed="absent"
  elif ! cmp -s "$f" "$dest/$rel"; then committed="DIFFERS"; fi
  printf '%-8s %8d  %-48s committed: %s\n' verified "$(stat -c%s "$f")" "$rel" "$committed"
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
