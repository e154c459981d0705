#include "paxos_commit/records.h"

#include <algorithm>
#include <set>

#include "paxos_commit/output.h"
#include "paxos_commit/overloaded.h"

namespace pc {

namespace {
template <class T, class Pred>
void eraseIf(std::vector<T>& v, Pred p) {
  v.erase(std::remove_if(v.begin(), v.end(), p), v.end());
}

template <class T>
void upsert(std::vector<T>& v, const T& rec) {
  for (auto& x : v) {
    if (x.txn == rec.txn) {
      x = rec;
      return;
    }
  }
  v.push_back(rec);
}
}  // namespace

const char* toString(ParticipantState s) {
  switch (s) {
    case ParticipantState::Prepared:
      return "prepared";
    case ParticipantState::VotedAborted:
      return "voted-aborted";
    case ParticipantState::Committed:
      return "committed";
    case ParticipantState::Aborted:
      return "aborted";
  }
  return "?";
}

const char* recordName(const Record& r) {
  return std::visit(Overloaded{
                        [](const AcceptorTxnRecord&) { return "AcceptorTxn"; },
                        [](const AcceptorForgetRecord&) { return "AcceptorForget"; },
                        [](const AcceptorLowWaterRecord&) { return "AcceptorLowWater"; },
                        [](const ParticipantTxnRecord&) { return "ParticipantTxn"; },
                        [](const ParticipantLowWaterRecord&) { return "ParticipantLowWater"; },
                        [](const LeaderRoundRecord&) { return "LeaderRound"; },
                        [](const DecisionRecord&) { return "Decision"; },
                        [](const DecisionLowWaterRecord&) { return "DecisionLowWater"; },
                    },
                    r);
}

bool isCriticalRecord(const Record& r) {
  return std::visit(Overloaded{
                        [](const AcceptorTxnRecord&) { return true; },
                        [](const ParticipantTxnRecord& p) {
                          return p.state == ParticipantState::Prepared ||
                                 p.state == ParticipantState::VotedAborted;
                        },
                        [](const LeaderRoundRecord&) { return true; },
                        [](const DecisionRecord& d) { return !d.done; },
                        [](const auto&) { return false; },
                    },
                    r);
}

void applyRecord(Recovered& img, const Record& r) {
  std::visit(
      Overloaded{
          [&](const AcceptorTxnRecord& x) { upsert(img.acceptorTxns, x); },
          [&](const AcceptorForgetRecord& x) {
            eraseIf(img.acceptorTxns, [&](const AcceptorTxnRecord& a) { return a.txn == x.txn; });
            if (x.txn > img.acceptorLowWater) {
              // An upsert, like every keyed record: a second forget replaces the first.
              auto it = std::find_if(img.acceptorTombstones.begin(), img.acceptorTombstones.end(),
                                     [&](const AcceptorTombstone& t) { return t.txn == x.txn; });
              if (it != img.acceptorTombstones.end()) {
                it->outcome = x.outcome;
              } else {
                img.acceptorTombstones.push_back(AcceptorTombstone{x.txn, x.outcome});
              }
            }
          },
          [&](const AcceptorLowWaterRecord& x) {
            if (x.mark > img.acceptorLowWater) img.acceptorLowWater = x.mark;
            eraseIf(img.acceptorTombstones,
                    [&](const AcceptorTombstone& t) { return t.txn <= x.mark; });
          },
          [&](const ParticipantTxnRecord& x) { upsert(img.participantTxns, x); },
          [&](const ParticipantLowWaterRecord& x) {
            if (x.mark > img.participantLowWater) img.participantLowWater = x.mark;
            eraseIf(img.participantTxns, [&](const ParticipantTxnRecord& p) {
              return p.txn <= x.mark && p.state != ParticipantState::Prepared;
            });
          },
          [&](const LeaderRoundRecord& x) {
            if (x.round > img.leaderRound) img.leaderRound = x.round;
          },
          [&](const DecisionRecord& x) { upsert(img.decisions, x); },
          [&](const DecisionLowWaterRecord& x) {
            if (x.mark > img.decisionLowWater) img.decisionLowWater = x.mark;
            eraseIf(img.decisions,
                    [&](const DecisionRecord& d) { return d.txn <= x.mark && d.done; });
          },
      },
      r);
}

void Output::append(Output&& o) {
  if (persist.empty()) {
    persist = std::move(o.persist);
  } else {
    reserveMore(persist, o.persist.size());
    for (auto& r : o.persist) persist.push_back(std::move(r));
  }
  if (send.empty()) {
    send = std::move(o.send);
  } else {
    reserveMore(send, o.send.size());
    for (auto& s : o.send) send.push_back(std::move(s));
  }
  wakeAt(o.wakeAtTick);
  for (auto& l : o.learned) learned.push_back(l);
  for (auto& e : o.recoveriesStarted) recoveriesStarted.push_back(e);
}

std::vector<bool> supersededRecords(const std::vector<Record>& records) {
  std::vector<bool> out(records.size(), false);
  // Walking backwards: the transactions whose acceptor row (decision row) a later record
  // writes or erases.
  std::set<TxnId> acceptorLater, decisionLater;
  for (size_t i = records.size(); i-- > 0;) {
    const Record& r = records[i];
    if (const auto* a = std::get_if<AcceptorTxnRecord>(&r)) {
      out[i] = !acceptorLater.insert(a->txn).second;
    } else if (const auto* f = std::get_if<AcceptorForgetRecord>(&r)) {
      acceptorLater.insert(f->txn);
    } else if (const auto* d = std::get_if<DecisionRecord>(&r)) {
      out[i] = !decisionLater.insert(d->txn).second;
    }
  }
  return out;
}

}  // namespace pc
