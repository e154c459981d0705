// The cluster's certificates (issue 12, mutual TLS): made by `pcommit cluster start --tls`
// with OpenSSL's library, and loaded from the cluster file's tls-* keys
// (runtime/cluster_config.h) into the rpc::Tls contexts the transports use (rpc/tls.h).
//
// What createClusterCerts writes under its folder (DIR/tls/ for cluster start):
//   ca.pem, ca.key         the cluster's CA (self-signed, ECDSA P-256, 10 years); the
//                          key signs nothing else after this call: keep it off the nodes
//   <node>.pem, <node>.key one per node: CN = the node's name, SAN = DNS:<name> and the
//                          node's host (IP: or DNS:), usable as server and as client
//   client.pem, client.key CN = client: what txn, get, outcome, bench and the library show
//   admin.pem, admin.key   CN = admin: may call `status` (as may any node certificate)
// Every certificate's subject also holds O = pcommit and OU = cluster <tag> (a random tag
// per CA), so a certificate read by a person says which cluster it belongs to; what the
// nodes check is the CA's signature. Keys are unencrypted PKCS#8 PEM, mode 0600;
// certificates 0644. No revocation list: a leaked key is only taken back by a new CA.
#pragma once

#include <memory>
#include <string>

#include "rpc/tls.h"
#include "runtime/cluster_config.h"

namespace pc::runtime {

// Makes the CA and every certificate above in `folder` (created, mode 0700; files there
// of the same names are replaced) and sets config.tls and every node's tlsCert/tlsKey to
// their paths, relative to config.dir() when `folder` is inside it. Throws
// std::runtime_error naming the file or the OpenSSL step that failed.
void createClusterCerts(ClusterConfig& config, const std::string& folder);

// The contexts of one process, from the cluster file's keys. All throw ConfigError naming
// the key, its path and the reason (cannot read, not a certificate, key does not match):
// the CLI prints it and exits 64. Precondition: config.tlsEnabled().
std::shared_ptr<const rpc::Tls> loadClientTls(const ClusterConfig& config);
// tls-admin-cert/key if the file has them, else the client's (status is then refused).
std::shared_ptr<const rpc::Tls> loadAdminTls(const ClusterConfig& config);
// The node's own certificate: a node without tls-cert/tls-key is refused here.
std::shared_ptr<const rpc::Tls> loadNodeTls(const ClusterConfig& config, const NodeInfo& node);

}  // namespace pc::runtime
