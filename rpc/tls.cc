#include "rpc/tls.h"

#include <kj/compat/tls.h>
#include <kj/debug.h>

#include <utility>

namespace pc::rpc {

namespace {

// Runs `parse`, turning KJ's exception (bad PEM, wrong key) into a TlsError naming `label`.
template <class F>
auto parsed(const std::string& label, F parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const kj::Exception& e) {
    throw TlsError(label + ": " + e.getDescription().cStr());
  }
}

}  // namespace

Tls::Tls(const Pem& pem) {
  if (pem.ca.empty()) throw TlsError(pem.caLabel + ": empty");
  if (pem.cert.empty()) throw TlsError(pem.certLabel + ": empty");
  if (pem.key.empty()) throw TlsError(pem.keyLabel + ": empty");
  ca_ = parsed(pem.caLabel,
               [&] { return std::make_unique<kj::TlsCertificate>(kj::StringPtr(pem.ca.c_str())); });
  auto cert =
      parsed(pem.certLabel, [&] { return kj::TlsCertificate(kj::StringPtr(pem.cert.c_str())); });
  auto key =
      parsed(pem.keyLabel, [&] { return kj::TlsPrivateKey(kj::StringPtr(pem.key.c_str())); });
  keypair_ = std::make_unique<kj::TlsKeypair>(kj::TlsKeypair{kj::mv(key), kj::mv(cert)});
  kj::TlsContext::Options o;
  o.useSystemTrustStore = false;  // only the cluster's CA
  o.verifyClients = true;         // mutual: a client without a certificate is refused
  o.trustedCertificates = kj::arrayPtr(ca_.get(), 1);
  o.defaultKeypair = *keypair_;
  ctx_ = parsed(pem.certLabel + " and " + pem.keyLabel,
                [&] { return std::make_unique<kj::TlsContext>(kj::mv(o)); });
}

Tls::~Tls() = default;

kj::Promise<kj::Own<kj::AsyncIoStream>> Tls::wrapClient(kj::Own<kj::AsyncIoStream> stream,
                                                        const std::string& serverName) const {
  return ctx_->wrapClient(kj::mv(stream), kj::StringPtr(serverName.c_str()));
}

kj::Promise<Tls::Accepted> Tls::wrapServer(kj::Own<kj::AsyncIoStream> stream) const {
  kj::AuthenticatedStream plain{kj::mv(stream), kj::UnknownPeerIdentity::newInstance()};
  return ctx_->wrapServer(kj::mv(plain)).then([](kj::AuthenticatedStream&& s) {
    auto& id = kj::downcast<kj::TlsPeerIdentity>(*s.peerIdentity);
    // verifyClients makes the handshake fail without a certificate; checked again, as a
    // peer without a name must never pass as anyone.
    if (!id.hasCertificate()) {
      return kj::Promise<Accepted>(KJ_EXCEPTION(DISCONNECTED, "TLS peer showed no certificate"));
    }
    std::string cn = id.getCommonName().cStr();
    return kj::Promise<Accepted>(Accepted{kj::mv(s.stream), std::move(cn)});
  });
}

}  // namespace pc::rpc
