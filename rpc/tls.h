// Mutual TLS between pcommit processes (issue 12), on kj-tls (KJ's OpenSSL wrapper).
//
// One CA per cluster signs every certificate (runtime/tls_certs.h makes them). A
// certificate's subject CN says who holds it:
//   c1, p2, a3 ...      a node of the cluster (the CN is the node's name; its SAN names it
//                       too, as DNS:<name>, and its host)
//   client, client-*    a client (the library, `pcommit txn`, `get`, `outcome`, bench)
//   admin               an operator (`status`)
// Trust comes from the CA alone: a certificate signed by another CA never completes a
// handshake, so a certificate of this CA names a peer of this cluster.
//
// How the peer's name is learned: kj 0.9.2's TlsContext::wrapServer(AuthenticatedStream)
// hands back a kj::TlsPeerIdentity for the verified chain, whose getCommonName() reads the
// subject CN -- no access to the OpenSSL SSL* is needed. The server requires a client
// certificate (verifyClients, no system trust store: only the cluster's CA). A client
// checks the server's certificate against the node name it meant to reach (wrapClient's
// expected host name, matched against the SAN's DNS:<name>), so a node cannot stand in
// for another one either.
//
// What the name permits is the transport's business (rpc/transport.h, "With TLS"); this
// file only does handshakes. Thread: a Tls may be shared by the transports of one thread.
#pragma once

#include <kj/async-io.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace kj {
class TlsContext;
struct TlsKeypair;
class TlsCertificate;
}  // namespace kj

namespace pc::rpc {

// A certificate or key that cannot be used; what() names which one and why.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tls {
 public:
  // PEM texts: the cluster's CA certificate, our certificate and its private key (PKCS#8
  // or traditional, unencrypted). `label` names them in errors (e.g. the cluster file's
  // keys). Throws TlsError if a text does not parse. That the key belongs to the
  // certificate and the CA signed it is the loader's check (runtime/tls_certs.h).
  struct Pem {
    std::string ca, cert, key;
    std::string caLabel = "CA certificate", certLabel = "certificate", keyLabel = "private key";
  };
  explicit Tls(const Pem& pem);
  ~Tls();
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;

  // Client side of a handshake on `stream`. Fails (kj::Exception) unless the server's
  // certificate is of our CA and names `serverName` (a node name such as "c1").
  kj::Promise<kj::Own<kj::AsyncIoStream>> wrapClient(kj::Own<kj::AsyncIoStream> stream,
                                                     const std::string& serverName) const;

  // Server side: fails unless the client shows a certificate of our CA. `commonName` is
  // its subject CN.
  struct Accepted {
    kj::Own<kj::AsyncIoStream> stream;
    std::string commonName;
  };
  kj::Promise<Accepted> wrapServer(kj::Own<kj::AsyncIoStream> stream) const;

 private:
  std::unique_ptr<kj::TlsCertificate> ca_;
  std::unique_ptr<kj::TlsKeypair> keypair_;
  std::unique_ptr<kj::TlsContext> ctx_;
};

}  // namespace pc::rpc
