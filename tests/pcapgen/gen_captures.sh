#!/bin/bash
# gen_captures.sh OUTDIR - regenerate the committed TLS test captures (as root; needs openssl, tcpdump, ethtool).
# Real openssl s_server/s_client handshakes on loopback inside a private netns (host lo untouched), MTU 1500 and
# offloads off so Certificate messages span several TCP segments (performance.md appendix A). The raw captures are
# then re-addressed to the TAC note's addresses by rewrite.py: server 10.48.36.215, client (Expressway-C) 10.48.36.46.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(readlink -f "$1"); mkdir -p "$OUT"
PY=${PY:-$HERE/../../.venv/bin/python}
W=$(mktemp -d /tmp/pcapgen.XXXXXX)
"$PY" "$HERE/mkcerts.py" "$W"
W=$W unshare -n bash "$HERE/scenarios.sh"
base=1657558525  # 2022-07-11 16:55:25 UTC, as in the TAC note
i=0
for name in article unknown_ca sni_ip tls13 resumed; do
  "$PY" "$HERE/rewrite.py" "$W/raw_$name.pcap" "$OUT/$name.pcap" $((base + 60 * i))
  i=$((i + 1))
done
cp "$W/ca_vcsc_2022-07-11_16_55_44.pem" "$W/server_vcsc_2022-07-11_16_55_44.pem" "$OUT/"
cp "$W/root.pem" "$OUT/steven-DC-CA.pem"; cp "$W/rogue_root.pem" "$OUT/rogue-root.pem"
rm -rf "$W"
ls -l "$OUT"
