#!/bin/sh
# A throw-away CA and a certificate for the Kamailio example over TLS (tls.cfg), for a lab only:
#   make-tls-certs.sh DIR IP DOMAIN   ->  DIR/ca.pem, DIR/ca.key, DIR/trunk.pem, DIR/trunk.key
# The trunk's certificate names DOMAIN (what a UA checks, RFC 5922) and IP (what a peer dialling the
# address checks). ECDSA P-256, valid 30 days.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR IP DOMAIN" >&2; exit 2; }
dir=$1 ip=$2 domain=$3
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=trunkcheck lab CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$domain" \
    -keyout "$dir/trunk.key" -out "$dir/trunk.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$domain" "$ip" > "$dir/trunk.ext"
openssl x509 -req -in "$dir/trunk.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
    -extfile "$dir/trunk.ext" -out "$dir/trunk.pem" 2>/dev/null
rm -f "$dir/trunk.csr" "$dir/trunk.ext" "$dir/ca.srl"
echo "$dir/ca.pem $dir/trunk.pem $dir/trunk.key"
