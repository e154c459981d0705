#include "paxos_commit/messages.h"

#include <iterator>

#include "paxos_commit/overloaded.h"

namespace pc {

namespace {
// In the order of the Message variant (the index counters and wire kinds use).
constexpr const char* kKindNames[] = {"CommitRequest", "CommitReply", "Prepare",    "Vote",
                                      "Phase1a",       "Phase1b",     "Phase2a",    "Phase2b",
                                      "Outcome",       "Ack",         "AckRequest", "OutcomeQuery",
                                      "OutcomeReply",  "AckBatch"};
static_assert(std::size(kKindNames) == std::variant_size_v<Message>);
}  // namespace

const char* messageKindName(size_t index) {
  return index < std::size(kKindNames) ? kKindNames[index] : "?";
}

const char* messageName(const Message& m) { return messageKindName(m.index()); }

TxnId messageTxn(const Message& m) {
  return std::visit(Overloaded{
                        [](const AckBatch& x) { return x.acks.empty() ? TxnId{} : x.acks[0].txn; },
                        [](const auto& x) { return x.txn; },
                    },
                    m);
}

std::ostream& operator<<(std::ostream& os, const Envelope& e) {
  os << e.from << "->" << e.to << " " << messageName(e.msg) << " " << messageTxn(e.msg);
  std::visit(Overloaded{
                 [&](const Phase2a& m) {
                   for (const auto& v : m.votes)
                     os << " i" << v.instance << ":" << v.ballot << "=" << v.vote;
                 },
                 [&](const Phase2b& m) {
                   if (m.forgotten) os << " forgotten";
                   for (const auto& v : m.votes)
                     os << " i" << v.instance << ":" << v.ballot << "=" << v.vote;
                 },
                 [&](const Phase1a& m) { os << " " << m.ballot; },
                 [&](const Phase1b& m) {
                   os << " " << m.ballot << (m.promised ? " promised" : " refused")
                      << (m.forgotten ? " forgotten" : "");
                 },
                 [&](const OutcomeMsg& m) { os << " " << m.outcome; },
                 [&](const CommitReply& m) { os << " " << toString(m.status); },
                 [&](const OutcomeReply& m) { os << " " << toString(m.status); },
                 [&](const VoteMsg& m) { os << " " << m.vote; },
                 [&](const AckBatch& m) { os << " acks=" << m.acks.size(); },
                 [](const auto&) {},
             },
             e.msg);
  return os;
}

}  // namespace pc
