# vppsim and https receivers: with --ca-file trusting a test CA the TEST_NOTIFICATION and
# later notifications reach an https receiver; without it the receiver's certificate is not
# trusted and Client Config fails with 9728.
. "$(dirname "$0")/lib_sim.sh"

cd "$T"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj "/CN=vppsim test CA" 2>/dev/null
# shellcheck disable=SC2086
openssl req $ec -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
    -extfile ext.cnf 2>/dev/null
cd - >/dev/null

recv_start --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
HTTPS_URL="https://$(head -n1 "$T/recv.ready")/notify"

sim_start --event-delay 0
sim_location
st=$(api POST /client/config "{\"notificationUrl\":\"$HTTPS_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}")
assert_apple_error "$st" 400 9728 "an untrusted certificate"
ctl GET "/_sim/deliveries?type=TEST_NOTIFICATION" >/dev/null
assert_json "$T/ctl" '.deliveries[0] | [.status, (.error | length > 0)]' '[0,true]' "TLS failure logged"
sim_stop
ok "untrusted https receiver"

sim_start --event-delay 0 --ca-file "$T/ca.pem"
sim_location
st=$(api POST /client/config "{\"notificationUrl\":\"$HTTPS_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\",\"notificationTypes\":[\"ASSET_COUNT\"]}")
assert_eq "$st" 200 "client config over https"
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"1\",\"count\":2}" >/dev/null
settle
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT" and .auth == "ok" and .status == 200')" 1 "ASSET_COUNT over https"
sim_stop
recv_stop
ok "https receiver with --ca-file"
