// The transport's TLS side (rpc/transport.h, "With TLS"): inbound handshakes, what each
// kind of certificate may call and send, and the outbound handshake. Nothing here runs
// with TLS off.
#include <arpa/inet.h>
#include <kj/debug.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <utility>

#include "rpc/tls.h"
#include "rpc/transport.h"

namespace pc::rpc {

namespace {

// The peer's IP address ("unix" on a Unix socket, "?" if not a socket): one log line per peer,
// whatever its port.
std::string addressOf(kj::AsyncIoStream& stream) {
  sockaddr_storage ss{};
  kj::uint len = sizeof ss;
  std::string out = "?";
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 stream.getpeername(reinterpret_cast<sockaddr*>(&ss), &len);
                 char buf[INET6_ADDRSTRLEN] = {};
                 if (ss.ss_family == AF_INET) {
                   auto* in = reinterpret_cast<sockaddr_in*>(&ss);
                   if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) out = buf;
                 } else if (ss.ss_family == AF_INET6) {
                   auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
                   if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf)) out = buf;
                 } else if (ss.ss_family == AF_UNIX) {
                   out = "unix";  // a local peer: its end of the socket has no name
                 }
               })) {
    (void)e;
  }
  return out;
}

}  // namespace

void Transport::logPeerOnce(const std::string& peer, const std::string& line) {
  if (tlsLogged_.count(peer) != 0) return;
  if (tlsLogged_.size() >= kMaxLoggedSenders) return;  // counted in tlsRefused, not logged
  tlsLogged_.insert(peer);
  if (log_) log_(line + " (counted in tls_refused; logged once per peer)");
}

void Transport::handshake(kj::Own<kj::AsyncIoStream> stream) {
  // Counted against maxInboundConnections until it ends: a flood of connections that
  // never finish their handshake must not get past the cap. A handshake not done by the
  // idle timeout is dropped, like a connection that never calls.
  ++handshakes_;
  const std::string address = addressOf(*stream);
  kj::Promise<Tls::Accepted> done = opts_.tls->wrapServer(kj::mv(stream));
  if (opts_.idleTimeoutMs > 0) {
    done = done.exclusiveJoin(afterRealDelay(io_.provider->getTimer(), opts_.idleTimeoutMs)
                                  .then([]() -> kj::Promise<Tls::Accepted> {
                                    return KJ_EXCEPTION(DISCONNECTED, "TLS handshake timed out");
                                  }));
  }
  tasks_->add(done.then(
      [this, address](Tls::Accepted&& a) {
        --handshakes_;
        auto auth = authOf(a.commonName);
        if (!auth) {
          metrics_.tlsRefused++;
          logPeerOnce("cn " + a.commonName + " at " + address,
                      "TLS: refused a certificate naming '" + a.commonName + "' at " + address +
                          ": not a node of this cluster, client or admin");
          return;  // dropping the stream closes it
        }
        metrics_.tlsHandshakes++;
        auth->peer = a.commonName + " at " + address;
        classify(kj::mv(a.stream), std::move(*auth));
      },
      [this, address](kj::Exception&& e) {
        --handshakes_;
        metrics_.tlsRefused++;
        // Once per peer and kind of failure (plaintext, another CA...), not per attempt.
        logPeerOnce("handshake " + address + ": " + e.getDescription().cStr(),
                    "TLS: refused a connection from " + address +
                        " (plaintext, a certificate "
                        "of another CA, or none): " +
                        e.getDescription().cStr());
      }));
}

std::optional<PeerAuth> Transport::authOf(const std::string& commonName) const {
  PeerAuth a;
  if (auto it = memberIds_.find(commonName); it != memberIds_.end()) {
    a.kind = PeerAuth::Kind::Node;
    a.node = it->second;
  } else if (commonName == "client" || commonName.rfind("client-", 0) == 0) {
    a.kind = PeerAuth::Kind::Client;
  } else if (commonName == "admin") {
    a.kind = PeerAuth::Kind::Admin;
  } else {
    return std::nullopt;
  }
  return a;
}

void Transport::refuse(const PeerAuth& auth, const std::string& what) {
  metrics_.tlsRefused++;
  logPeerOnce(auth.peer, "TLS: refused " + what + " from " + auth.peer);
  throw kj::Exception(
      kj::Exception::Type::FAILED, __FILE__, __LINE__,
      kj::str("TLS: refused by this node for the caller's certificate: ", what.c_str()));
}

void Transport::receiveAuthenticated(PeerAuth& auth, NodeId from,
                                     capnp::List<wire::Message>::Reader msgs) {
  switch (auth.kind) {
    case PeerAuth::Kind::Node:
      // A node speaks only as itself: its certificate names it.
      if (from != auth.node) refuse(auth, "deliver as node " + std::to_string(from));
      receive(from, msgs);
      return;
    case PeerAuth::Kind::Client: {
      if (auth.client == kNoNode || from != auth.client) {
        refuse(auth, "deliver as " + std::to_string(from) +
                         " (not the client id attached on "
                         "this connection)");
      }
      size_t refused = receive(from, msgs, &auth);
      if (refused > 0) {
        refuse(auth, std::to_string(refused) +
                         " node message(s) (a client may send "
                         "CommitRequest, OutcomeQuery, and lead its own transactions)");
      }
      return;
    }
    case PeerAuth::Kind::Admin:
      refuse(auth, "deliver (an admin certificate may call get and status only)");
    case PeerAuth::Kind::Open:
      break;
  }
  receive(from, msgs);
}

bool Transport::clientMaySend(const PeerAuth& auth, const Message& m) const {
  // What a client's own leader sends in paxos-direct (client/client.h): prepare naming
  // itself as the leader, phase 1a of ballot 0 (asking acceptors) or of a ballot it owns,
  // and the outcome of its own transactions (the participants check the sender leads).
  if (std::holds_alternative<CommitRequest>(m) || std::holds_alternative<OutcomeQuery>(m)) {
    return true;
  }
  if (const auto* p = std::get_if<Prepare>(&m)) return p->leader == auth.client;
  if (const auto* a = std::get_if<Phase1a>(&m)) {
    return a->ballot.isZero() || a->ballot.leader == auth.client;
  }
  return std::holds_alternative<OutcomeMsg>(m);
}

void Transport::checkAttach(PeerAuth& auth, NodeId from, bool withSink) {
  if (!withSink) {
    // An introduction (cluster id only, rpc/transport_identity.cc): a node as itself;
    // clients and admins introduce their one-off connections, which binds nothing.
    if (auth.kind == PeerAuth::Kind::Node && from != auth.node) {
      refuse(auth, "attach as node " + std::to_string(from));
    }
    return;
  }
  if (auth.kind != PeerAuth::Kind::Client) {
    refuse(auth, "attach (only a client certificate attaches a sink)");
  }
  if (auth.client != kNoNode && auth.client != from) {
    refuse(auth, "attach as " + std::to_string(from) + " (this connection is bound to client " +
                     std::to_string(auth.client) + ")");
  }
  if (!isClientId(from)) refuse(auth, "attach as " + std::to_string(from) + " (not a client id)");
  auth.client = from;  // bound for the life of the connection
}

void Transport::checkStatus(const PeerAuth& auth) {
  if (auth.kind == PeerAuth::Kind::Client) {
    refuse(auth, "status (needs a node or admin certificate)");
  }
}

kj::Promise<kj::Own<kj::AsyncIoStream>> Transport::secureOutbound(kj::Own<kj::AsyncIoStream> stream,
                                                                  NodeId peer, const Tls* tls) {
  // Keepalive is a socket option: set it before TLS wraps the socket.
  setKeepalive(*stream);
  auto it = opts_.names.find(peer);
  if (it == opts_.names.end() || it->second.empty()) {
    return KJ_EXCEPTION(FAILED, "TLS: no node name for peer", peer);
  }
  return tls->wrapClient(kj::mv(stream), it->second);
}

}  // namespace pc::rpc
