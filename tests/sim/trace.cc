#include "tests/sim/trace.h"

#include <cstdio>

#include "paxos_commit/overloaded.h"

namespace pc::sim {

namespace {
std::string tickPrefix(uint64_t tick) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "t=%06llu ", static_cast<unsigned long long>(tick));
  return buf;
}
}  // namespace

void Trace::setEcho(std::ostream* os) {
  echo_ = os;
  if (echo_ != nullptr && lineCount_ == tail_.size()) {
    for (const auto& l : tail_) *echo_ << l << '\n';
  }
}

void Trace::add(uint64_t tick, const std::string& line) {
  std::string full = tickPrefix(tick) + line;
  hash_ = fnv1a64(fnv1a64(hash_, full), "\n");
  ++lineCount_;
  if (echo_ != nullptr) *echo_ << full << '\n';
  tail_.push_back(std::move(full));
  while (tail_.size() > tailLinesMax_) tail_.pop_front();
}

std::string Names::node(NodeId id) const {
  auto it = nodes_.find(id);
  if (it != nodes_.end()) return it->second;
  if (id == kDecisionInstance) return "dec";  // 2pc-replicated's decision instance
  return "n" + std::to_string(id);
}

std::string Names::txn(const TxnId& t) const {
  auto it = txns_.find(t);
  if (it != txns_.end()) return it->second;
  return "T?" + t.toString().substr(16);
}

std::string Names::ballot(const Ballot& b) const {
  if (b.isZero()) return "b0";
  return "b" + std::to_string(b.round) + "." + node(b.leader);
}

std::string Names::list(const ParticipantList& l) const {
  std::string s = "[";
  for (size_t i = 0; i < l.size(); ++i) {
    if (i > 0) s += ",";
    s += node(l[i]);
  }
  return s + "]";
}

std::string Names::message(const Envelope& e) const {
  std::string s =
      node(e.from) + "->" + node(e.to) + " " + messageName(e.msg) + " " + txn(messageTxn(e.msg));
  auto votes = [&](const std::vector<InstanceVote>& vs) {
    for (const auto& v : vs) {
      s += " " + node(v.instance) + ":" + ballot(v.ballot) + "=" + toString(v.vote);
    }
  };
  std::visit(
      Overloaded{
          [&](const CommitRequest& m) { s += " parts=" + std::to_string(m.payloads.size()); },
          [&](const CommitReply& m) {
            s += std::string(" ") + toString(m.status);
            if (!m.reason.empty()) s += " (" + m.reason + ")";
          },
          [&](const Prepare& m) { s += " " + list(m.participants); },
          [&](const VoteMsg& m) { s += std::string(" ") + toString(m.vote); },
          [&](const Phase1a& m) {
            s += m.participants.empty() ? std::string(" query") : " " + ballot(m.ballot);
          },
          [&](const Phase1b& m) {
            s += " " + ballot(m.ballot);
            if (m.forgotten) {
              s += " forgotten";
            } else if (m.promised) {
              s += " promised";
              for (const auto& r : m.reports) {
                s += " " + node(r.instance) + ":" +
                     (r.bal ? ballot(*r.bal) + "=" + toString(*r.val) : std::string("-"));
              }
            } else if (m.participants.empty() && m.ballot.isZero()) {
              s += " unknown";
            } else if (m.ballot.isZero()) {
              s += " knows " + list(m.participants);
            } else {
              s += " refused mbal=" + ballot(m.mbal);
            }
          },
          [&](const Phase2a& m) { votes(m.votes); },
          [&](const Phase2b& m) {
            if (m.forgotten) s += " forgotten";
            votes(m.votes);
          },
          [&](const OutcomeMsg& m) { s += std::string(" ") + toString(m.outcome); },
          [&](const Ack& m) {
            s += std::string(" ") + (m.outcome ? toString(*m.outcome) : "(forgotten)");
          },
          [&](const AckRequest&) {},
          [&](const AckBatch& m) {
            s += " x" + std::to_string(m.acks.size());
            for (const auto& a : m.acks) {
              s += " " + txn(a.txn) + "=" + (a.outcome ? toString(*a.outcome) : "(forgotten)");
            }
          },
          [&](const OutcomeQuery&) {},
          [&](const OutcomeReply& m) { s += std::string(" ") + toString(m.status); },
      },
      e.msg);
  return s;
}

std::string Names::record(const Record& r) const {
  return std::visit(
      Overloaded{
          [&](const AcceptorTxnRecord& x) {
            std::string s = "AcceptorTxn " + txn(x.txn);
            for (const auto& i : x.instances) {
              s += " " + node(i.instance) + ":mbal=" + ballot(i.mbal) +
                   ",bal=" + (i.bal ? ballot(*i.bal) + "=" + toString(*i.val) : std::string("-"));
            }
            return s;
          },
          [&](const AcceptorForgetRecord& x) { return "AcceptorForget " + txn(x.txn); },
          [&](const AcceptorLowWaterRecord& x) { return "AcceptorLowWater " + txn(x.mark); },
          [&](const ParticipantTxnRecord& x) {
            return "ParticipantTxn " + txn(x.txn) + " " + toString(x.state);
          },
          [&](const ParticipantLowWaterRecord& x) { return "ParticipantLowWater " + txn(x.mark); },
          [&](const LeaderRoundRecord& x) { return "LeaderRound " + std::to_string(x.round); },
          [&](const DecisionRecord& x) {
            return "Decision " + txn(x.txn) + (x.done ? " done" : " commit");
          },
          [&](const DecisionLowWaterRecord& x) { return "DecisionLowWater " + txn(x.mark); },
      },
      r);
}

}  // namespace pc::sim
