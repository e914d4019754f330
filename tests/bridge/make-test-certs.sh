#!/bin/sh
# Regenerates the test-only TLS certificates and keys in this directory.
# Each pair is a self-signed EC P-256 certificate for "localhost", valid from
# 2000 to 2100 so that a machine's clock never makes the tests fail.
# These keys are public and protect nothing: never use them outside tests.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = anything
copy_extensions = none
x509_extensions = ext
[anything]
commonName = supplied
[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
subjectAltName = DNS:localhost
CNF
for name in relay other; do
	: >"$work/index.txt"
	echo 01 >"$work/serial"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "test-only-$name.key"
	chmod 600 "test-only-$name.key"
	openssl req -new -key "test-only-$name.key" -subj /CN=localhost -out "$work/$name.csr"
	openssl ca -batch -config "$work/ca.cnf" -selfsign -keyfile "test-only-$name.key" \
		-startdate 20000101000000Z -enddate 21000101000000Z -notext \
		-in "$work/$name.csr" -out "test-only-$name.crt"
done
