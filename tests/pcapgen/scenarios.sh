#!/bin/bash
# scenarios.sh - run by gen_captures.sh inside a private netns (cwd-independent: uses $W).
set -u
cd "$W"
ip link set lo up mtu 1500; ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
srv() { openssl s_server -quiet -www -accept "$@" </dev/null >/dev/null 2>&1 & }
cli() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "$@" >/dev/null 2>&1 || true; }
capture() {  # capture NAME: run the rest of the scenario while tcpdump writes raw_NAME.pcap
  tcpdump -i lo -s0 -U --immediate-mode -Z root -w "raw_$1.pcap" tcp </dev/null >/dev/null 2>"tcpdump_$1.log" & TD=$!; sleep 2
}
stop() { sleep 0.5; kill $TD; wait $TD 2>/dev/null; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; sleep 0.3; }

# a) the article: 8443 CA-signed RSA tomcat (root not sent, mutual TLS with the Expressway's own cert);
#    6972 self-signed ECDSA tomcat-ECDSA, the client rejects it with a fatal unknown_ca alert
capture article
srv 8443 -tls1_2 -cert tomcat.pem -key tomcat.key -verify 1; srv 6972 -tls1_2 -cert tomcat_ec.pem -key tomcat_ec.key
sleep 1
cli 127.0.0.1:8443 -tls1_2 -servername cucm.steven.lab -CAfile root.pem -verify_return_error -cert vcsc.pem -key vcsc.key
cli 127.0.0.1:6972 -tls1_2 -servername cucm.steven.lab -CAfile root.pem -verify_return_error
stop
# b) unknown CA: a chain (leaf + intermediate, root not sent) from a CA outside the trust store
capture unknown_ca
srv 8443 -tls1_2 -cert rogue_leaf.pem -key rogue_leaf.key -cert_chain rogue_chain.pem
sleep 1
cli 127.0.0.1:8443 -tls1_2 -servername cucm.steven.lab -CAfile root.pem -verify_return_error
stop
# c) connecting by IP: SNI 10.48.36.215 (then no SNI) to the RSA cert that has no IP SAN
capture sni_ip
srv 8443 -tls1_2 -cert tomcat.pem -key tomcat.key
sleep 1
cli 127.0.0.1:8443 -tls1_2 -servername 10.48.36.215 -CAfile root.pem -verify_ip 10.48.36.215 -verify_return_error
cli 127.0.0.1:8443 -tls1_2 -noservername -CAfile root.pem
stop
# d) TLS 1.3: certificates are encrypted
capture tls13
srv 8443 -tls1_3 -cert tomcat.pem -key tomcat.key
sleep 1
cli 127.0.0.1:8443 -tls1_3 -servername cucm.steven.lab -CAfile root.pem
stop
# e) resumed TLS 1.2 session: the second handshake has no Certificate message
capture resumed
srv 8443 -tls1_2 -cert tomcat.pem -key tomcat.key
sleep 1
cli 127.0.0.1:8443 -tls1_2 -servername cucm.steven.lab -CAfile root.pem -sess_out sess.pem
cli 127.0.0.1:8443 -tls1_2 -servername cucm.steven.lab -CAfile root.pem -sess_in sess.pem
stop
