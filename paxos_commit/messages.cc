#include "paxos_commit/messages.h"

#include "paxos_commit/overloaded.h"

namespace pc {

const char* messageName(const Message& m) {
  return std::visit(Overloaded{
                        [](const CommitRequest&) { return "CommitRequest"; },
                        [](const CommitReply&) { return "CommitReply"; },
                        [](const Prepare&) { return "Prepare"; },
                        [](const VoteMsg&) { return "Vote"; },
                        [](const Phase1a&) { return "Phase1a"; },
                        [](const Phase1b&) { return "Phase1b"; },
                        [](const Phase2a&) { return "Phase2a"; },
                        [](const Phase2b&) { return "Phase2b"; },
                        [](const OutcomeMsg&) { return "Outcome"; },
                        [](const Ack&) { return "Ack"; },
                        [](const AckRequest&) { return "AckRequest"; },
                        [](const OutcomeQuery&) { return "OutcomeQuery"; },
                        [](const OutcomeReply&) { return "OutcomeReply"; },
                    },
                    m);
}

TxnId messageTxn(const Message& m) {
  return std::visit([](const auto& x) { return x.txn; }, m);
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
                 [](const auto&) {},
             },
             e.msg);
  return os;
}

}  // namespace pc
