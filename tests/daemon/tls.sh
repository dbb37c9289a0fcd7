#!/usr/bin/env bash
# daemon-tls: --web.config.file with TLS and bcrypt basic auth (the
# exporter-toolkit format), its errors, and its reload.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
D=$TEST_TMP

for tool in openssl htpasswd; do
  command -v $tool >/dev/null || { skip "TLS and basic auth" "$tool is not installed (scripts/deps.sh test)"; done_testing; exit 0; }
done
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
ok $? "openssl makes a self-signed certificate"
hash() { htpasswd -nbB -C 5 "$1" "$2" | cut -d: -f2-; }
ALICE=$(hash alice s3cret)
write_web() {  # MIN_VERSION ALICE_HASH
  cat > "$D/web.yml" <<YML
# exporter-toolkit style
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
  min_version: $1
http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
basic_auth_users:
  alice: '$2'
  bob: '$(hash bob hunter2)'
YML
}
write_web TLS12 "$ALICE"
start_poold --workload=idle --web.config.file="$D/web.yml"
ok $? "poold starts with TLS and basic auth" || { done_testing; exit 1; }
S=https://${POOLD_URL#http://}
# c URL [curl args]: the status code
c() { local u=$1; shift; curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$D/cert.pem" "$@" "$u"; }

ok $([[ $(c "$S/metrics" -u alice:s3cret) == 200 ]]; echo $?) "https with the right password: 200"
ok $([[ $(c "$S/metrics" -u bob:hunter2) == 200 ]]; echo $?) "a second user: 200"
ok $([[ $(c "$S/metrics" -u alice:s3cret) == 200 ]]; echo $?) "again (remembered check): 200"
ok $([[ $(c "$S/metrics") == 401 ]]; echo $?) "no credentials: 401"
ok $([[ $(c "$S/nope") == 401 ]]; echo $?) "no credentials on an unknown path: 401 (paths are not revealed)"
ok $([[ $(c "$S/metrics" -u alice:wrong) == 401 ]]; echo $?) "wrong password: 401"
ok $([[ $(c "$S/metrics" -u mallory:s3cret) == 401 ]]; echo $?) "unknown user: 401"
ok $([[ $(c "$S/metrics" -u alice:) == 401 ]]; echo $?) "empty password: 401"
ok $([[ $(c "$S/metrics" -H 'Authorization: Basic !!!notbase64') == 401 ]]; echo $?) "garbage Authorization: 401"
wrong=$(curl -s -D - --cacert "$D/cert.pem" -u alice:wrong "$S/metrics" | tr -d '\r' | grep -vi '^date:')
unknown=$(curl -s -D - --cacert "$D/cert.pem" -u mallory:x "$S/metrics" | tr -d '\r' | grep -vi '^date:')
ok $([[ "$wrong" == "$unknown" ]]; echo $?) "wrong password and unknown user get byte-identical answers"
ok $(grep -qi '^WWW-Authenticate: Basic realm="poold"' <<<"$wrong"; echo $?) "401 carries WWW-Authenticate: Basic"
hdrs=$(curl -s -D - -o /dev/null --cacert "$D/cert.pem" -u alice:s3cret "$S/metrics" | tr -d '\r')
ok $(grep -qi '^X-Frame-Options: deny' <<<"$hdrs" && grep -qi '^X-Content-Type-Options: nosniff' <<<"$hdrs"; echo $?) \
  "http_server_config.headers are sent"
ok $([[ $(c "$POOLD_URL/metrics") != 200 ]]; echo $?) "plain http to the TLS port is not served"
ok $([[ $(c "$S/metrics" -u alice:s3cret --tls-max 1.1) == 000 ]]; echo $?) "TLS 1.1 is refused (min_version TLS12)"
n401=$(curl -s --cacert "$D/cert.pem" -u alice:s3cret "$S/metrics" | metric 'poold_http_requests_total{code="401"}')
ok $([[ $n401 -ge 6 ]]; echo $?) "401s are counted ($n401)"

# ---- reload: new password, TLS 1.3 only (the latter at the next start) --------------
write_web TLS13 "$(hash alice n3w)"
kill -HUP "$POOLD_PID"
wait_for "grep -q 'configuration reloaded' '$POOLD_LOG'" 10
ok $([[ $(c "$S/metrics" -u alice:n3w) == 200 ]]; echo $?) "after SIGHUP the new password works"
ok $([[ $(c "$S/metrics" -u alice:s3cret) == 401 ]]; echo $?) "and the old one (even remembered) does not"
stop_poold
start_poold --workload=idle --web.config.file="$D/web.yml"
S=https://${POOLD_URL#http://}
ok $([[ $(c "$S/metrics" -u alice:n3w --tls-max 1.2) == 000 ]]; echo $?) "min_version TLS13 refuses TLS 1.2"
ok $([[ $(c "$S/metrics" -u alice:n3w --tlsv1.3) == 200 ]]; echo $?) "and serves TLS 1.3"
stop_poold

# ---- basic auth without TLS, bad files -------------------------------------------------
printf 'basic_auth_users:\n  carol: %s\n' "$(hash carol pw)" > "$D/auth.yml"
start_poold --workload=idle --web.config.file="$D/auth.yml"
ok $([[ $(c "$POOLD_URL/metrics" -u carol:pw) == 200 && $(c "$POOLD_URL/metrics") == 401 ]]; echo $?) \
  "basic auth alone (no TLS) works"
stop_poold
bad_web() {  # WHAT EXPECTED YAML
  printf '%b' "$3" > "$D/bad.yml"
  out=$(timeout 10 "$POOLD" --config="$D/empty.conf" --web.listen-address=127.0.0.1:0 --web.config.file="$D/bad.yml" 2>&1)
  status=$?
  ok $([[ $status -ne 0 && $status -ne 124 && $out == *"$2"* ]]; echo $?) "bad web config, $1: exits $status, says '$2'"
  [[ $out != *"$2"* ]] && diag "$out"
}
bad_web "unknown key" 'bad.yml:2: unknown key "tls_server_confg"' '# x\ntls_server_confg:\n  cert_file: a\n'
bad_web "unknown TLS key" 'bad.yml:3: unknown key "tls_server_config.cert_fil"' 'tls_server_config:\n  key_file: key.pem\n  cert_fil: a\n'
bad_web "client certificates" 'client_auth_type is not supported' 'tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n'
bad_web "not a bcrypt hash" 'bad.yml:2: basic_auth_users.dave: not a bcrypt hash' 'basic_auth_users:\n  dave: plaintext\n'
bad_web "YAML syntax" 'bad.yml:' 'basic_auth_users: [\n'
bad_web "header not allowed" 'header "Set-Cookie" is not one of the allowed' 'http_server_config:\n  headers:\n    Set-Cookie: a=b\n'
bad_web "missing key file" 'needs one of cert_file or cert' 'tls_server_config:\n  cert_file: cert.pem\n'
bad_web "missing certificate file" 'nothere.pem' 'tls_server_config:\n  cert_file: nothere.pem\n  key_file: key.pem\n'
bad_web "bad TLS version" 'min_version: expected TLS10' 'tls_server_config:\n  min_version: SSL3\n'
bad_web "rate_limit" 'rate_limit is not supported' 'rate_limit:\n  interval: 1s\n'
done_testing
