#include "rpc/convert.h"

#include <kj/exception.h>

namespace pc::rpc {

namespace {

struct Invalid {
  std::string why;
};

wire::Vote voteToWire(Vote v) {
  return v == Vote::Prepared ? wire::Vote::PREPARED : wire::Vote::ABORTED;
}
wire::Outcome outcomeToWire(Outcome o) {
  return o == Outcome::Commit ? wire::Outcome::COMMIT : wire::Outcome::ABORT;
}
wire::TxnStatus statusToWire(TxnStatus s) {
  switch (s) {
    case TxnStatus::Committed:
      return wire::TxnStatus::COMMITTED;
    case TxnStatus::Aborted:
      return wire::TxnStatus::ABORTED;
    case TxnStatus::Unknown:
      return wire::TxnStatus::UNKNOWN;
    case TxnStatus::Forgotten:
      return wire::TxnStatus::FORGOTTEN;
  }
  return wire::TxnStatus::NONE;
}

Vote voteFromWire(wire::Vote v) {
  if (v == wire::Vote::PREPARED) return Vote::Prepared;
  if (v == wire::Vote::ABORTED) return Vote::Aborted;
  throw Invalid{"invalid vote"};
}
Outcome outcomeFromWire(wire::Outcome o) {
  if (o == wire::Outcome::COMMIT) return Outcome::Commit;
  if (o == wire::Outcome::ABORT) return Outcome::Abort;
  throw Invalid{"invalid outcome"};
}
TxnStatus statusFromWire(wire::TxnStatus s) {
  switch (s) {
    case wire::TxnStatus::COMMITTED:
      return TxnStatus::Committed;
    case wire::TxnStatus::ABORTED:
      return TxnStatus::Aborted;
    case wire::TxnStatus::UNKNOWN:
      return TxnStatus::Unknown;
    case wire::TxnStatus::FORGOTTEN:
      return TxnStatus::Forgotten;
    default:
      break;
  }
  throw Invalid{"invalid status"};
}

void setBallot(wire::Ballot::Builder b, const Ballot& x) {
  b.setRound(x.round);
  b.setLeader(x.leader);
}
Ballot getBallot(wire::Ballot::Reader r) {
  Ballot b{r.getRound(), r.getLeader()};
  if (b.round == 0 && b.leader != kNoNode) throw Invalid{"ballot 0 names a leader"};
  if (b.round != 0 && b.leader == kNoNode) throw Invalid{"ballot without a leader"};
  // Issue 12: a round near 2^64 leaves no ballot above it (round + 1 would wrap).
  if (!roundInRange(b)) throw Invalid{"ballot round above the maximum"};
  return b;
}

void setList(capnp::List<uint32_t>::Builder b, const ParticipantList& l) {
  for (unsigned i = 0; i < l.size(); ++i) b.set(i, l[i]);
}
ParticipantList getList(capnp::List<uint32_t>::Reader r, const Limits& lim) {
  if (r.size() > lim.maxParticipants) throw Invalid{"too many participants"};
  ParticipantList l;
  l.reserve(r.size());
  for (uint32_t id : r) {
    if (id == kNoNode) throw Invalid{"participant id 0"};
    l.push_back(id);
  }
  if (!isSortedUnique(l)) throw Invalid{"participant list not sorted and unique"};
  return l;
}

std::string getText(capnp::Text::Reader t, const Limits& lim) {
  if (t.size() > lim.maxReasonBytes) throw Invalid{"reason too long"};
  return std::string(t.cStr(), t.size());
}
Bytes getData(capnp::Data::Reader d, const Limits& lim) {
  if (d.size() > lim.maxPayloadBytes) throw Invalid{"payload over the limit"};
  return Bytes(reinterpret_cast<const char*>(d.begin()), d.size());
}
capnp::Data::Reader asData(const Bytes& b) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(b.data()), b.size());
}
capnp::Text::Reader asText(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

TxnId txnOf(wire::TxnId::Reader r) {
  TxnId t = getTxn(r);
  if (t.isZero()) throw Invalid{"transaction id is zero"};
  return t;
}
NodeId nodeOf(uint32_t id) {
  if (id == kNoNode) throw Invalid{"node id 0"};
  return id;
}

void setVotes(capnp::List<wire::InstanceVote>::Builder b, const std::vector<InstanceVote>& v) {
  for (unsigned i = 0; i < v.size(); ++i) {
    b[i].setInstance(v[i].instance);
    setBallot(b[i].initBallot(), v[i].ballot);
    b[i].setVote(voteToWire(v[i].vote));
  }
}
std::vector<InstanceVote> getVotes(capnp::List<wire::InstanceVote>::Reader r, const Limits& lim) {
  if (r.size() > lim.maxParticipants) throw Invalid{"too many votes"};
  std::vector<InstanceVote> v;
  v.reserve(r.size());
  for (auto x : r)
    v.push_back(
        InstanceVote{nodeOf(x.getInstance()), getBallot(x.getBallot()), voteFromWire(x.getVote())});
  return v;
}

Ack getAck(wire::Ack::Reader m) {
  std::optional<Outcome> o;
  if (m.getOutcome() != wire::Outcome::NONE) o = outcomeFromWire(m.getOutcome());
  return Ack{txnOf(m.getTxn()), nodeOf(m.getParticipant()), o};
}
void setAck(wire::Ack::Builder w, const Ack& m) {
  setTxn(w.initTxn(), m.txn);
  w.setParticipant(m.participant);
  if (m.outcome) w.setOutcome(outcomeToWire(*m.outcome));
}

Message convert(wire::Message::Reader r, const Limits& lim) {
  switch (r.which()) {
    case wire::Message::COMMIT_REQUEST: {
      auto m = r.getCommitRequest();
      CommitRequest c;
      c.txn = txnOf(m.getTxn());
      if (m.getPayloads().size() > lim.maxParticipants) throw Invalid{"too many participants"};
      c.payloads.reserve(m.getPayloads().size());
      for (auto p : m.getPayloads()) {
        c.payloads.push_back(
            ParticipantPayload{nodeOf(p.getParticipant()), getData(p.getPayload(), lim)});
      }
      return c;
    }
    case wire::Message::COMMIT_REPLY: {
      auto m = r.getCommitReply();
      return CommitReply{txnOf(m.getTxn()), statusFromWire(m.getStatus()),
                         getText(m.getReason(), lim)};
    }
    case wire::Message::PREPARE: {
      auto m = r.getPrepare();
      return Prepare{txnOf(m.getTxn()), getData(m.getPayload(), lim),
                     getList(m.getParticipants(), lim), nodeOf(m.getLeader())};
    }
    case wire::Message::VOTE: {
      auto m = r.getVote();
      return VoteMsg{txnOf(m.getTxn()), nodeOf(m.getParticipant()), voteFromWire(m.getVote()),
                     getText(m.getReason(), lim), m.getOwner()};
    }
    case wire::Message::PHASE1A: {
      auto m = r.getPhase1a();
      return Phase1a{txnOf(m.getTxn()), getBallot(m.getBallot()),
                     getList(m.getParticipants(), lim)};
    }
    case wire::Message::PHASE1B: {
      auto m = r.getPhase1b();
      Phase1b b;
      b.txn = txnOf(m.getTxn());
      b.acceptor = nodeOf(m.getAcceptor());
      b.ballot = getBallot(m.getBallot());
      b.promised = m.getPromised();
      b.forgotten = m.getForgotten();
      b.mbal = getBallot(m.getMbal());
      b.participants = getList(m.getParticipants(), lim);
      if (m.getReports().size() > lim.maxParticipants) throw Invalid{"too many reports"};
      b.reports.reserve(m.getReports().size());
      for (auto x : m.getReports()) {
        InstanceReport rep;
        rep.instance = nodeOf(x.getInstance());
        if (x.getHasVote()) {
          rep.bal = getBallot(x.getBal());
          rep.val = voteFromWire(x.getVal());
        }
        b.reports.push_back(rep);
      }
      if (m.getOutcome() != wire::Outcome::NONE) b.outcome = outcomeFromWire(m.getOutcome());
      return b;
    }
    case wire::Message::PHASE2A: {
      auto m = r.getPhase2a();
      return Phase2a{txnOf(m.getTxn()), getList(m.getParticipants(), lim), m.getLeader(),
                     getVotes(m.getVotes(), lim), getText(m.getReason(), lim)};
    }
    case wire::Message::PHASE2B: {
      auto m = r.getPhase2b();
      Phase2b b;
      b.txn = txnOf(m.getTxn());
      b.acceptor = nodeOf(m.getAcceptor());
      b.participants = getList(m.getParticipants(), lim);
      b.votes = getVotes(m.getVotes(), lim);
      b.forgotten = m.getForgotten();
      b.reason = getText(m.getReason(), lim);
      if (m.getOutcome() != wire::Outcome::NONE) b.outcome = outcomeFromWire(m.getOutcome());
      return b;
    }
    case wire::Message::OUTCOME: {
      auto m = r.getOutcome();
      return OutcomeMsg{txnOf(m.getTxn()), outcomeFromWire(m.getOutcome())};
    }
    case wire::Message::ACK:
      return getAck(r.getAck());
    case wire::Message::ACK_BATCH: {
      auto acks = r.getAckBatch().getAcks();
      if (acks.size() == 0) throw Invalid{"empty ack batch"};
      if (acks.size() > lim.maxAcksPerBatch) throw Invalid{"too many acks in one batch"};
      AckBatch b;
      b.acks.reserve(acks.size());
      for (auto a : acks) b.acks.push_back(getAck(a));
      return b;
    }
    case wire::Message::ACK_REQUEST:
      return AckRequest{txnOf(r.getAckRequest().getTxn())};
    case wire::Message::OUTCOME_QUERY: {
      auto m = r.getOutcomeQuery();
      return OutcomeQuery{txnOf(m.getTxn()), getList(m.getParticipants(), lim)};
    }
    case wire::Message::OUTCOME_REPLY: {
      auto m = r.getOutcomeReply();
      return OutcomeReply{txnOf(m.getTxn()), statusFromWire(m.getStatus())};
    }
  }
  throw Invalid{"unknown message kind"};
}

}  // namespace

wire::TxnId::Builder setTxn(wire::TxnId::Builder b, const TxnId& t) {
  b.setHi(t.hi);
  b.setLo(t.lo);
  return b;
}

TxnId getTxn(wire::TxnId::Reader r) { return TxnId{r.getHi(), r.getLo()}; }

std::variant<Message, std::string> fromWire(wire::Message::Reader r, const Limits& limits) {
  std::variant<Message, std::string> result = std::string("unreadable message");
  // A malformed pointer or a traversal-limit overrun throws kj::Exception inside the
  // reader; a field we refuse throws Invalid. Neither escapes: the caller drops and counts.
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 try {
                   result = convert(r, limits);
                 } catch (const Invalid& inv) {
                   result = inv.why;
                 }
               })) {
    result = std::string("malformed: ") + e->getDescription().cStr();
  }
  return result;
}

void toWire(const Message& msg, wire::Message::Builder b) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, CommitRequest>) {
          auto w = b.initCommitRequest();
          setTxn(w.initTxn(), m.txn);
          auto ps = w.initPayloads(static_cast<unsigned>(m.payloads.size()));
          for (unsigned i = 0; i < m.payloads.size(); ++i) {
            ps[i].setParticipant(m.payloads[i].participant);
            ps[i].setPayload(asData(m.payloads[i].payload));
          }
        } else if constexpr (std::is_same_v<T, CommitReply>) {
          auto w = b.initCommitReply();
          setTxn(w.initTxn(), m.txn);
          w.setStatus(statusToWire(m.status));
          w.setReason(asText(m.reason));
        } else if constexpr (std::is_same_v<T, Prepare>) {
          auto w = b.initPrepare();
          setTxn(w.initTxn(), m.txn);
          w.setPayload(asData(m.payload));
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
          w.setLeader(m.leader);
        } else if constexpr (std::is_same_v<T, VoteMsg>) {
          auto w = b.initVote();
          setTxn(w.initTxn(), m.txn);
          w.setParticipant(m.participant);
          w.setVote(voteToWire(m.vote));
          w.setReason(asText(m.reason));
          w.setOwner(m.owner);
        } else if constexpr (std::is_same_v<T, Phase1a>) {
          auto w = b.initPhase1a();
          setTxn(w.initTxn(), m.txn);
          setBallot(w.initBallot(), m.ballot);
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
        } else if constexpr (std::is_same_v<T, Phase1b>) {
          auto w = b.initPhase1b();
          setTxn(w.initTxn(), m.txn);
          w.setAcceptor(m.acceptor);
          setBallot(w.initBallot(), m.ballot);
          w.setPromised(m.promised);
          w.setForgotten(m.forgotten);
          setBallot(w.initMbal(), m.mbal);
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
          auto rs = w.initReports(static_cast<unsigned>(m.reports.size()));
          for (unsigned i = 0; i < m.reports.size(); ++i) {
            rs[i].setInstance(m.reports[i].instance);
            rs[i].setHasVote(m.reports[i].bal.has_value());
            if (m.reports[i].bal) {
              setBallot(rs[i].initBal(), *m.reports[i].bal);
              rs[i].setVal(voteToWire(*m.reports[i].val));
            }
          }
          if (m.outcome) w.setOutcome(outcomeToWire(*m.outcome));
        } else if constexpr (std::is_same_v<T, Phase2a>) {
          auto w = b.initPhase2a();
          setTxn(w.initTxn(), m.txn);
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
          w.setLeader(m.leader);
          setVotes(w.initVotes(static_cast<unsigned>(m.votes.size())), m.votes);
          w.setReason(asText(m.reason));
        } else if constexpr (std::is_same_v<T, Phase2b>) {
          auto w = b.initPhase2b();
          setTxn(w.initTxn(), m.txn);
          w.setAcceptor(m.acceptor);
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
          setVotes(w.initVotes(static_cast<unsigned>(m.votes.size())), m.votes);
          w.setForgotten(m.forgotten);
          w.setReason(asText(m.reason));
          if (m.outcome) w.setOutcome(outcomeToWire(*m.outcome));
        } else if constexpr (std::is_same_v<T, OutcomeMsg>) {
          auto w = b.initOutcome();
          setTxn(w.initTxn(), m.txn);
          w.setOutcome(outcomeToWire(m.outcome));
        } else if constexpr (std::is_same_v<T, Ack>) {
          setAck(b.initAck(), m);
        } else if constexpr (std::is_same_v<T, AckBatch>) {
          auto w = b.initAckBatch().initAcks(static_cast<unsigned>(m.acks.size()));
          for (unsigned i = 0; i < m.acks.size(); ++i) setAck(w[i], m.acks[i]);
        } else if constexpr (std::is_same_v<T, AckRequest>) {
          setTxn(b.initAckRequest().initTxn(), m.txn);
        } else if constexpr (std::is_same_v<T, OutcomeQuery>) {
          auto w = b.initOutcomeQuery();
          setTxn(w.initTxn(), m.txn);
          setList(w.initParticipants(static_cast<unsigned>(m.participants.size())), m.participants);
        } else if constexpr (std::is_same_v<T, OutcomeReply>) {
          auto w = b.initOutcomeReply();
          setTxn(w.initTxn(), m.txn);
          w.setStatus(statusToWire(m.status));
        }
      },
      msg);
}

}  // namespace pc::rpc
