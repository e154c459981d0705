#include "paxos_commit/types.h"

#include <algorithm>
#include <cstdio>

namespace pc {

std::string TxnId::toString() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return std::string(buf, 32);
}

std::optional<TxnId> TxnId::parse(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  uint64_t parts[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    char c = text[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    parts[i / 16] = (parts[i / 16] << 4) | d;
  }
  TxnId t{parts[0], parts[1]};
  if (t.isZero()) return std::nullopt;
  return t;
}

std::ostream& operator<<(std::ostream& os, const TxnId& t) { return os << t.toString(); }

std::ostream& operator<<(std::ostream& os, const Ballot& b) {
  if (b.isZero()) return os << "b0";
  return os << "b" << b.round << "." << b.leader;
}

const char* toString(Vote v) {
  switch (v) {
    case Vote::Prepared:
      return "prepared";
    case Vote::Aborted:
      return "aborted";
  }
  return "?";
}

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::Commit:
      return "commit";
    case Outcome::Abort:
      return "abort";
  }
  return "?";
}

const char* toString(TxnStatus s) {
  switch (s) {
    case TxnStatus::Committed:
      return "committed";
    case TxnStatus::Aborted:
      return "aborted";
    case TxnStatus::Unknown:
      return "unknown";
    case TxnStatus::Forgotten:
      return "forgotten";
  }
  return "?";
}

const char* toString(Protocol p) {
  switch (p) {
    case Protocol::TwoPC:
      return "2pc";
    case Protocol::PaxosClassic:
      return "paxos-classic";
    case Protocol::Paxos:
      return "paxos";
    case Protocol::PaxosDirect:
      return "paxos-direct";
    case Protocol::TwoPCReplicated:
      return "2pc-replicated";
  }
  return "?";
}

const char* toString(FanOut f) {
  switch (f) {
    case FanOut::All:
      return "all";
    case FanOut::Quorum:
      return "quorum";
  }
  return "?";
}

std::optional<Protocol> parseProtocol(std::string_view s) {
  for (Protocol p : {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos,
                     Protocol::PaxosDirect, Protocol::TwoPCReplicated}) {
    if (s == toString(p)) return p;
  }
  return std::nullopt;
}

std::optional<FanOut> parseFanOut(std::string_view s) {
  for (FanOut f : {FanOut::All, FanOut::Quorum}) {
    if (s == toString(f)) return f;
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, Vote v) { return os << toString(v); }
std::ostream& operator<<(std::ostream& os, Outcome o) { return os << toString(o); }

bool isSortedUnique(const ParticipantList& l) {
  for (size_t i = 1; i < l.size(); ++i) {
    if (!(l[i - 1] < l[i])) return false;
  }
  return true;
}

bool contains(const ParticipantList& l, NodeId id) {
  return std::binary_search(l.begin(), l.end(), id);
}

ParticipantList instancesOf(Protocol p, const ParticipantList& participants) {
  if (p == Protocol::TwoPCReplicated) return {kDecisionInstance};
  return participants;
}

size_t instanceCount(Protocol p, const ParticipantList& participants) {
  return p == Protocol::TwoPCReplicated ? 1 : participants.size();
}

bool isInstanceOf(Protocol p, const ParticipantList& participants, NodeId instance) {
  if (p == Protocol::TwoPCReplicated) return instance == kDecisionInstance;
  return contains(participants, instance);
}

}  // namespace pc
