// Shared helpers of the unit tests (tests/unit): builders for ids and messages, accessors
// that pull typed messages and records out of an Output, a fake Engine that records every
// call, a "disk" that applies records with the reference semantics (applyRecord), and the
// durable-before-send checker: every message that promises durability must be justified
// by a record made durable by the same Output or an earlier one (docs/PROTOCOL.md §3,
// docs/STYLE.md).
#pragma once

// doctest stringifies with an unqualified toString(), which finds pc::toString(enum) ->
// const char* by ADL and fails to compile. Our own stringifier turns pc enums into their
// names and leaves everything else to doctest. Must be declared before doctest.h, which is
// why test files include doctest only through this header.
namespace doctest {
class String;
}  // namespace doctest
template <class T>
doctest::String pcTestStringify(const T& value);
#define DOCTEST_STRINGIFY(...) pcTestStringify(__VA_ARGS__)
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "paxos_commit/config.h"
#include "paxos_commit/engine.h"
#include "paxos_commit/messages.h"
#include "paxos_commit/node.h"
#include "paxos_commit/output.h"
#include "paxos_commit/records.h"
#include "paxos_commit/types.h"

namespace pc::test {

// ---- ids and configuration ----

// Transaction ids that order like their argument (hi is the same "clock" for all).
inline TxnId txnId(uint64_t n) { return TxnId{0x1000, n}; }

inline constexpr NodeId kP1 = 1;  // participants (and their instances)
inline constexpr NodeId kP2 = 2;
inline constexpr NodeId kP3 = 3;
inline constexpr NodeId kCoord = 50;  // a coordinator / initial leader
inline constexpr NodeId kCoord2 = 51;
inline constexpr NodeId kClient = 90;
inline constexpr NodeId kA1 = 101;  // acceptors, F = 1
inline constexpr NodeId kA2 = 102;
inline constexpr NodeId kA3 = 103;

inline CoreConfig makeConfig(Protocol p, FanOut fanOut = FanOut::All) {
  CoreConfig c;
  c.protocol = p;
  c.fanOut = fanOut;
  c.f = 1;
  c.acceptors = {kA1, kA2, kA3};
  c.coordinators = {kCoord, kCoord2};
  c.participants = {kP1, kP2, kP3};
  return c;
}

inline Ballot ballot(uint64_t round, NodeId leader) { return Ballot{round, leader}; }

// ---- message builders ----

inline Envelope env(NodeId from, NodeId to, Message m) { return Envelope{from, to, std::move(m)}; }

inline InstanceVote iv(NodeId instance, Ballot b, Vote v) { return InstanceVote{instance, b, v}; }
inline InstanceVote iv0(NodeId instance, Vote v) { return iv(instance, Ballot::zero(), v); }

inline Prepare prepareMsg(const TxnId& txn, Bytes payload, ParticipantList participants,
                          NodeId leader = kCoord) {
  return Prepare{txn, std::move(payload), std::move(participants), leader};
}

// A participant's ballot-0 vote for its own instance.
inline Phase2a vote0(const TxnId& txn, NodeId participant, Vote v, ParticipantList participants,
                     NodeId leader = kCoord) {
  Phase2a m;
  m.txn = txn;
  m.participants = std::move(participants);
  m.leader = leader;
  m.votes = {iv0(participant, v)};
  return m;
}

inline Phase2a phase2a(const TxnId& txn, Ballot b, std::vector<std::pair<NodeId, Vote>> votes,
                       ParticipantList participants, NodeId leader) {
  Phase2a m;
  m.txn = txn;
  m.participants = std::move(participants);
  m.leader = leader;
  for (auto [i, v] : votes) m.votes.push_back(iv(i, b, v));
  return m;
}

inline Phase1a phase1a(const TxnId& txn, Ballot b, ParticipantList participants) {
  return Phase1a{txn, b, std::move(participants)};
}

inline Phase2b phase2b(const TxnId& txn, NodeId acceptor, std::vector<InstanceVote> votes,
                       ParticipantList participants) {
  Phase2b m;
  m.txn = txn;
  m.acceptor = acceptor;
  m.participants = std::move(participants);
  m.votes = std::move(votes);
  return m;
}

// A promising 1b at `b` with the given reports.
inline Phase1b promise(const TxnId& txn, NodeId acceptor, Ballot b, ParticipantList participants,
                       std::vector<InstanceReport> reports) {
  Phase1b m;
  m.txn = txn;
  m.acceptor = acceptor;
  m.ballot = b;
  m.promised = true;
  m.mbal = b;
  m.participants = std::move(participants);
  m.reports = std::move(reports);
  return m;
}

inline InstanceReport noVote(NodeId instance) { return InstanceReport{instance, {}, {}}; }
inline InstanceReport voted(NodeId instance, Ballot b, Vote v) {
  return InstanceReport{instance, b, v};
}

inline CommitRequest request(const TxnId& txn, std::vector<std::pair<NodeId, Bytes>> payloads) {
  CommitRequest r{txn, {}};
  for (auto& [p, b] : payloads) r.payloads.push_back(ParticipantPayload{p, b});
  return r;
}

// ---- reading an Output ----

template <class M>
struct Sent {
  NodeId from;
  NodeId to;
  M msg;
};

template <class M>
std::vector<Sent<M>> sent(const Output& o) {
  std::vector<Sent<M>> out;
  for (const auto& e : o.send) {
    if (const M* m = std::get_if<M>(&e.msg)) out.push_back(Sent<M>{e.from, e.to, *m});
  }
  return out;
}

template <class M>
std::vector<M> sentTo(const Output& o, NodeId to) {
  std::vector<M> out;
  for (const auto& s : sent<M>(o)) {
    if (s.to == to) out.push_back(s.msg);
  }
  return out;
}

template <class M>
std::set<NodeId> destinations(const Output& o) {
  std::set<NodeId> out;
  for (const auto& s : sent<M>(o)) out.insert(s.to);
  return out;
}

template <class M>
size_t countSent(const Output& o) {
  return sent<M>(o).size();
}

template <class R>
std::vector<R> records(const Output& o) {
  std::vector<R> out;
  for (const auto& r : o.persist) {
    if (const R* x = std::get_if<R>(&r)) out.push_back(*x);
  }
  return out;
}

inline std::vector<InstanceVote> sortedVotes(std::vector<InstanceVote> v) {
  std::sort(v.begin(), v.end(), [](const InstanceVote& a, const InstanceVote& b) {
    return std::tie(a.instance, a.ballot) < std::tie(b.instance, b.ballot);
  });
  return v;
}

inline bool learnedOutcome(const Output& o, const TxnId& txn, Outcome outcome) {
  for (const auto& l : o.learned) {
    if (l.txn == txn && l.outcome == outcome) return true;
  }
  return false;
}

inline bool learnedAnything(const Output& o, const TxnId& txn) {
  for (const auto& l : o.learned) {
    if (l.txn == txn) return true;
  }
  return false;
}

// A readable dump of an Output for failure messages.
inline std::string dump(const Output& o) {
  std::ostringstream os;
  os << "persist[";
  for (const auto& r : o.persist) os << " " << recordName(r);
  os << " ] send[";
  for (const auto& e : o.send) os << " {" << e << "}";
  os << " ] learned[";
  for (const auto& l : o.learned) os << " " << l.txn << "=" << l.outcome;
  os << " ] wake=" << o.wakeAtTick << " recoveries=" << o.recoveriesStarted.size();
  return os.str();
}

// ---- durable-before-send ----

inline const AcceptorTxnRecord* findAcceptorTxn(const Recovered& d, const TxnId& txn) {
  for (const auto& r : d.acceptorTxns) {
    if (r.txn == txn) return &r;
  }
  return nullptr;
}

inline const AcceptorInstance* findInstance(const AcceptorTxnRecord* r, NodeId i) {
  if (r == nullptr) return nullptr;
  for (const auto& x : r->instances) {
    if (x.instance == i) return &x;
  }
  return nullptr;
}

inline const ParticipantTxnRecord* findParticipantTxn(const Recovered& d, const TxnId& txn) {
  for (const auto& r : d.participantTxns) {
    if (r.txn == txn) return &r;
  }
  return nullptr;
}

inline const DecisionRecord* findDecision(const Recovered& d, const TxnId& txn) {
  for (const auto& r : d.decisions) {
    if (r.txn == txn) return &r;
  }
  return nullptr;
}

// Which role's disk `disk` is: decides which messages carry a durability promise.
enum class Role { Acceptor, Participant, Leader, TwoPcCoordinator };

// Applies the records of `o` to a copy of `diskBefore` (the node's disk after every
// earlier Output) and returns one line per message of `o` whose durability promise that
// disk does not justify. Empty = durable-before-send holds for this Output.
inline std::vector<std::string> unjustifiedPromises(const Output& o, const Recovered& diskBefore,
                                                    Role role) {
  Recovered disk = diskBefore;
  for (const auto& r : o.persist) applyRecord(disk, r);
  std::vector<std::string> bad;
  auto complain = [&](const Envelope& e, const std::string& why) {
    std::ostringstream os;
    os << e << ": " << why;
    bad.push_back(os.str());
  };
  for (const auto& e : o.send) {
    if (role == Role::Acceptor) {
      if (const auto* m = std::get_if<Phase2b>(&e.msg); m != nullptr && !m->forgotten) {
        // 2b(b, v): mbal = bal = b, val = v durable (or the acceptor moved on since).
        const auto* rec = findAcceptorTxn(disk, m->txn);
        for (const auto& v : m->votes) {
          const auto* inst = findInstance(rec, v.instance);
          if (inst == nullptr || !inst->bal.has_value()) {
            complain(e, "2b for an instance with no durable vote");
          } else if (*inst->bal == v.ballot && inst->val != v.vote) {
            complain(e, "2b value differs from the durable vote");
          } else if (*inst->bal < v.ballot) {
            complain(e, "2b ballot above the durable vote");
          }
        }
      }
      if (const auto* m = std::get_if<Phase1b>(&e.msg); m != nullptr && !m->forgotten) {
        const auto* rec = findAcceptorTxn(disk, m->txn);
        if (m->promised) {
          // 1b(b): mbal >= b durable for every instance reported.
          for (const auto& r : m->reports) {
            const auto* inst = findInstance(rec, r.instance);
            if (inst == nullptr || inst->mbal < m->ballot) {
              complain(e, "promise without a durable mbal >= ballot");
            }
          }
        }
        for (const auto& r : m->reports) {
          if (!r.bal.has_value()) continue;
          const auto* inst = findInstance(rec, r.instance);
          if (inst == nullptr || !inst->bal.has_value() || *inst->bal < *r.bal) {
            complain(e, "1b reports a vote that is not durable");
          }
        }
      }
    }
    if (role == Role::Participant) {
      if (const auto* m = std::get_if<Phase2a>(&e.msg)) {
        for (const auto& v : m->votes) {
          if (!v.ballot.isZero()) continue;
          const auto* rec = findParticipantTxn(disk, m->txn);
          if (rec == nullptr) {
            complain(e, "ballot-0 vote without a durable participant record");
          } else if (v.vote == Vote::Prepared && rec->state == ParticipantState::VotedAborted) {
            complain(e, "ballot-0 Prepared but the record says VotedAborted");
          } else if (v.vote == Vote::Aborted && rec->state != ParticipantState::VotedAborted &&
                     rec->state != ParticipantState::Aborted) {
            complain(e, "ballot-0 Aborted but the record says Prepared/Committed");
          }
        }
      }
      if (const auto* m = std::get_if<VoteMsg>(&e.msg); m != nullptr && m->vote == Vote::Prepared) {
        const auto* rec = findParticipantTxn(disk, m->txn);
        if (rec == nullptr || rec->state == ParticipantState::VotedAborted) {
          complain(e, "2PC vote Prepared without a durable Prepared record");
        }
      }
      std::vector<Ack> acks;  // an Ack, or every entry of an AckBatch
      if (const auto* m = std::get_if<Ack>(&e.msg)) acks.push_back(*m);
      if (const auto* m = std::get_if<AckBatch>(&e.msg)) acks = m->acks;
      for (const Ack& a : acks) {
        const auto* rec = findParticipantTxn(disk, a.txn);
        if (rec == nullptr) {
          if (!(a.txn <= disk.participantLowWater)) {
            complain(e, "ack without a durable outcome record");
          }
        } else if (a.outcome == Outcome::Commit && rec->state != ParticipantState::Committed) {
          complain(e, "ack Commit without a durable Committed record");
        } else if (a.outcome == Outcome::Abort && rec->state != ParticipantState::Aborted &&
                   rec->state != ParticipantState::VotedAborted) {
          complain(e, "ack Abort without a durable Aborted record");
        }
      }
    }
    if (role == Role::Participant || role == Role::Leader) {
      // A leader (also a participant's recovery leader) persists its round before a 2a.
      if (const auto* m = std::get_if<Phase2a>(&e.msg)) {
        for (const auto& v : m->votes) {
          if (!v.ballot.isZero() && disk.leaderRound < v.ballot.round) {
            complain(e, "2a at a round above the durable leader round");
          }
        }
      }
    }
    if (role == Role::TwoPcCoordinator) {
      bool commit = false;
      if (const auto* m = std::get_if<OutcomeMsg>(&e.msg)) commit = m->outcome == Outcome::Commit;
      if (const auto* m = std::get_if<CommitReply>(&e.msg)) {
        commit = m->status == TxnStatus::Committed;
      }
      if (commit && findDecision(disk, messageTxn(e.msg)) == nullptr) {
        complain(e, "2PC Commit without a durable DecisionRecord");
      }
    }
  }
  return bad;
}

// §8 invariants visible in an Output, checked against the disk before it: acceptor records
// keep bal <= mbal, val none <=> bal none, instances sorted, and mbal / bal never go down;
// a leader round never goes down.
inline std::vector<std::string> recordInvariantViolations(const Output& o,
                                                          const Recovered& diskBefore) {
  std::vector<std::string> bad;
  Recovered disk = diskBefore;
  for (const auto& r : o.persist) {
    if (const auto* a = std::get_if<AcceptorTxnRecord>(&r)) {
      const auto* old = findAcceptorTxn(disk, a->txn);
      for (size_t i = 0; i < a->instances.size(); ++i) {
        const auto& x = a->instances[i];
        std::ostringstream who;
        who << a->txn << " instance " << x.instance << ": ";
        if (i > 0 && !(a->instances[i - 1].instance < x.instance)) {
          bad.push_back(who.str() + "instances not sorted/unique");
        }
        if (x.bal.has_value() != x.val.has_value()) bad.push_back(who.str() + "val <=> bal");
        if (x.bal.has_value() && x.mbal < *x.bal) bad.push_back(who.str() + "bal > mbal");
        if (const auto* prev = findInstance(old, x.instance)) {
          if (x.mbal < prev->mbal) bad.push_back(who.str() + "mbal went down");
          if (prev->bal.has_value() && (!x.bal.has_value() || *x.bal < *prev->bal)) {
            bad.push_back(who.str() + "bal went down");
          }
        }
      }
      if (old != nullptr) {
        for (const auto& prev : old->instances) {
          if (findInstance(a, prev.instance) == nullptr) {
            bad.push_back("instance dropped from an acceptor record");
          }
        }
      }
    }
    if (const auto* l = std::get_if<LeaderRoundRecord>(&r)) {
      if (l->round < disk.leaderRound) bad.push_back("leader round went down");
    }
    applyRecord(disk, r);
  }
  return bad;
}

inline std::string joinLines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

// ---- a fake Engine ----

// Records every call; prepare answers Prepared unless told otherwise per transaction.
class FakeEngine : public Engine {
 public:
  struct Call {
    std::string what;  // "prepare", "commit", "abort", "restore"
    TxnId txn;
    Bytes payload;
  };

  PrepareResult prepare(const TxnId& txn, const Bytes& payload) override {
    calls.push_back({"prepare", txn, payload});
    auto it = answers.find(txn);
    if (it != answers.end()) return it->second;
    return PrepareResult{Vote::Prepared, ""};
  }
  void commit(const TxnId& txn, const Bytes& payload) override {
    calls.push_back({"commit", txn, payload});
  }
  void abort(const TxnId& txn, const Bytes& payload) override {
    calls.push_back({"abort", txn, payload});
  }
  void restorePrepared(const TxnId& txn, const Bytes& payload) override {
    calls.push_back({"restore", txn, payload});
  }

  void voteAborted(const TxnId& txn, std::string reason = "conflict") {
    answers[txn] = PrepareResult{Vote::Aborted, std::move(reason)};
  }
  size_t count(const std::string& what, const TxnId& txn) const {
    return static_cast<size_t>(std::count_if(
        calls.begin(), calls.end(), [&](const Call& c) { return c.what == what && c.txn == txn; }));
  }

  std::vector<Call> calls;
  std::map<TxnId, PrepareResult> answers;
};

// ---- a node on a simulated disk ----

// Drives one Node: every Output is checked for durable-before-send against the node's disk,
// then its records are applied (applyRecord, the reference semantics), then the node's
// invariants are checked. restart() rebuilds the node from its disk alone, as a crash would.
template <class N>
class Harness {
 public:
  using Factory = std::function<std::unique_ptr<N>(const Recovered&)>;

  Harness(Role role, Factory factory, Recovered initial = {})
      : disk(std::move(initial)), role_(role), factory_(std::move(factory)) {
    node_ = factory_(disk);
    node_->checkInvariants();
  }

  N& node() { return *node_; }
  const N& node() const { return *node_; }
  NodeId id() const { return node_->id(); }

  Output step(Output o) {
    auto bad = unjustifiedPromises(o, disk, role_);
    CHECK_MESSAGE(bad.empty(), "durable-before-send violated:\n" << joinLines(bad) << dump(o));
    auto broken = recordInvariantViolations(o, disk);
    CHECK_MESSAGE(broken.empty(), "record invariants violated:\n" << joinLines(broken) << dump(o));
    // §8: at most one 2a value per (txn, instance, ballot) from this node, across restarts.
    for (const auto& s : sent<Phase2a>(o)) {
      for (const auto& v : s.msg.votes) {
        auto [it, fresh] =
            votesSent_.emplace(std::make_tuple(s.msg.txn, v.instance, v.ballot), v.vote);
        CHECK_MESSAGE(it->second == v.vote,
                      "two different 2a values at one ballot: " << v.instance << " " << v.ballot);
        (void)fresh;
      }
    }
    for (const auto& r : o.persist) applyRecord(disk, r);
    node_->checkInvariants();
    return o;
  }

  // Each input is checked against the state before it (Node::checkDelta, snapshot.h).
  Output deliver(NodeId from, Message m) {
    Snapshot before = node_->snapshot();
    Output o = node_->onMessage(Envelope{from, node_->id(), std::move(m)});
    node_->checkDelta(before);
    return step(std::move(o));
  }

  Output tick() {
    Snapshot before = node_->snapshot();
    Output o = node_->onTick();
    node_->checkDelta(before);
    return step(std::move(o));
  }

  // Ticks `n` times and returns everything produced, in order.
  Output ticks(uint64_t n) {
    Output all;
    for (uint64_t i = 0; i < n; ++i) all.append(tick());
    return all;
  }

  // Ticks until `pred` holds for an Output (at most `limit` ticks); returns that Output,
  // or an empty one after `limit` ticks. `ticked` tells how many ticks it took.
  Output tickUntil(const std::function<bool(const Output&)>& pred, uint64_t limit,
                   uint64_t* ticked = nullptr) {
    for (uint64_t i = 1; i <= limit; ++i) {
      Output o = tick();
      if (pred(o)) {
        if (ticked != nullptr) *ticked = i;
        return o;
      }
    }
    if (ticked != nullptr) *ticked = 0;
    return Output{};
  }

  // A crash: volatile state is lost, the disk is kept.
  void restart() {
    node_ = factory_(disk);
    node_->checkInvariants();
  }

  Recovered disk;

 private:
  Role role_;
  Factory factory_;
  std::unique_ptr<N> node_;
  std::map<std::tuple<TxnId, NodeId, Ballot>, Vote> votesSent_;  // survives restart()
};

}  // namespace pc::test

template <class T>
doctest::String pcTestStringify(const T& value) {
  if constexpr (std::is_enum_v<T> && requires { pc::toString(value); }) {
    return doctest::String(pc::toString(value));
  } else {
    using doctest::toString;
    return toString(value);
  }
}

namespace doctest {
template <>
struct StringMaker<pc::TxnStatus> {
  static String convert(pc::TxnStatus s) { return pc::toString(s); }
};
template <>
struct StringMaker<pc::ParticipantState> {
  static String convert(pc::ParticipantState s) { return pc::toString(s); }
};
template <>
struct StringMaker<pc::InstanceVote> {
  static String convert(const pc::InstanceVote& v) {
    std::ostringstream os;
    os << "i" << v.instance << ":" << v.ballot << "=" << v.vote;
    return os.str().c_str();
  }
};
template <>
struct StringMaker<std::vector<pc::InstanceVote>> {
  static String convert(const std::vector<pc::InstanceVote>& vs) {
    std::ostringstream os;
    os << "[";
    for (const auto& v : vs) os << " i" << v.instance << ":" << v.ballot << "=" << v.vote;
    os << " ]";
    return os.str().c_str();
  }
};
template <>
struct StringMaker<std::optional<pc::Vote>> {
  static String convert(const std::optional<pc::Vote>& v) { return v ? pc::toString(*v) : "none"; }
};
template <>
struct StringMaker<std::optional<pc::Outcome>> {
  static String convert(const std::optional<pc::Outcome>& v) {
    return v ? pc::toString(*v) : "none";
  }
};
template <>
struct StringMaker<std::optional<pc::TxnStatus>> {
  static String convert(const std::optional<pc::TxnStatus>& v) {
    return v ? pc::toString(*v) : "none";
  }
};
template <>
struct StringMaker<std::optional<pc::ParticipantState>> {
  static String convert(const std::optional<pc::ParticipantState>& v) {
    return v ? pc::toString(*v) : "none";
  }
};
}  // namespace doctest
