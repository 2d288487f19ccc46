# A node for documentation examples (docs/docs-tests.md), sourced by a hidden setup block:
#
#   <!-- docs-test: setup
#   . "$CLOVER_SOURCE_DIR/tests/docs_node.sh"
#   -->
#
# In the scratch directory the runner gives the file, it makes the node's keys under
# docs-node/, starts the example DC ie-dub-1 (embedded store, the example policy, principals
# and purposes) on a free loopback port in the background, waits until it is ready, and
# exports CLOVER_URL, CLOVER_NODE_CONFIG, CLOVER_LOG_KEY (the log's verifier key file) and the
# published example API keys of examples/README.md: ACCOUNTS (accounts-eu), SUPPORT
# (eu-support-1), TNS (eu-tns-1), ENGINEER (cn-engineer-1), ANALYTICS (eu-analytics),
# RECOMMENDER (us-recommender), LEGAL (us-legal-1), AUDITOR, ADMIN. The runner stops the node
# when the file is done. Fails (non-zero) if the node does not become ready within 30 s.

docs_node_dir="$PWD/docs-node"
install -d -m 0700 "$docs_node_dir"
clover keys generate --type note --name log.eu.clover.example/ie-dub-1 \
  --out "$docs_node_dir/note.key" >"$docs_node_dir/note.pub" 2>/dev/null
clover keys generate --type secret --out "$docs_node_dir/eu.kek" 2>/dev/null
clover keys generate --type secret --out "$docs_node_dir/eu.pseudonym.key" 2>/dev/null
docs_node_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$docs_node_dir/node.yaml" <<YAML
node: {id: ie-dub-1-a, region: eu, dc: ie-dub-1, listen: "127.0.0.1:$docs_node_port", data_dir: data}
jurisdictions: $PWD/examples/jurisdictions.yaml
regions: $PWD/examples/regions.yaml
schema: $PWD/examples/schema.yaml
principals: $PWD/examples/principals.yaml
purposes: $PWD/examples/purposes.yaml
storage: {driver: rocksdb}
log: {origin: log.eu.clover.example/ie-dub-1, key_file: note.key}
keys: {kek_file: eu.kek, pseudonym_key_file: eu.pseudonym.key}
policy: {file: $PWD/examples/policy.yaml}
YAML
clover serve --config "$docs_node_dir/node.yaml" 2>"$docs_node_dir/node.log" &
export CLOVER_URL="http://127.0.0.1:$docs_node_port"
export CLOVER_NODE_CONFIG="$docs_node_dir/node.yaml" CLOVER_LOG_KEY="$docs_node_dir/note.pub"
for _ in $(seq 150); do
  curl -sfo /dev/null "$CLOVER_URL/readyz" && break
  kill -0 $! 2>/dev/null || { tail -5 "$docs_node_dir/node.log" >&2; false; }
  sleep 0.2
done
curl -sfo /dev/null "$CLOVER_URL/readyz" || { echo "docs node not ready" >&2; false; }
export ACCOUNTS=clv_example_accounts_eu_f82f9af9e84945f8
export SUPPORT=clv_example_eu_support_1_ea58181ac18d4441
export TNS=clv_example_eu_tns_1_f4f20bb9bbca28dd
export ENGINEER=clv_example_cn_engineer_1_c28719a54896aa28
export ANALYTICS=clv_example_eu_analytics_bdb0a9fc04ae5d65
export RECOMMENDER=clv_example_us_recommender_1936c3a0627824c1
export LEGAL=clv_example_us_legal_1_6aeefe67cf2a45f9
export AUDITOR=clv_example_auditor_c5a62ce3fa7f6d86
export ADMIN=clv_example_admin_8c6976e5b5410415
