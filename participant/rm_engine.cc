#include "participant/rm_engine.h"

#include <algorithm>

namespace pc {

RmEngine::RmEngine(ResourceManager& rm, LogFn log) : rm_(rm), log_(std::move(log)) {}

PrepareResult RmEngine::prepare(const TxnId& txn, const Bytes& payload) {
  PrepareResult r;
  try {
    r = rm_.prepare(txn, payload);
  } catch (const std::exception& e) {
    r = {Vote::Aborted, std::string("prepare failed: ") + e.what()};
    log("txn " + txn.toString() + ": " + r.reason + "; aborting it in the engine");
    try {
      rm_.abort(txn);  // release whatever the failed prepare left behind
    } catch (const std::exception& e2) {
      log("txn " + txn.toString() + ": abort after the failed prepare failed too: " + e2.what());
    }
    return r;
  }
  if (r.vote == Vote::Prepared) lock(txn, payload);
  return r;
}

void RmEngine::commit(const TxnId&, const Bytes&) {
  // The core decided Commit; its record is not durable yet. The engine commits in
  // outcomeDurable(), so that a restart always finds a prepared engine transaction beside
  // a Prepared node record (resource_manager.h, RESTART).
}

void RmEngine::abort(const TxnId&, const Bytes&) {
  // As commit(). (For an Aborted vote the engine holds nothing: no call at all.)
}

void RmEngine::restorePrepared(const TxnId& txn, const Bytes& payload) {
  // The engine kept its prepared state itself (recover() checked it): only the read locks.
  lock(txn, payload);
}

void RmEngine::recover(const Recovered& rec) {
  std::vector<TxnId> listed = rm_.prepared();
  std::sort(listed.begin(), listed.end());
  std::map<TxnId, ParticipantState> records;
  for (const auto& r : rec.participantTxns) records.emplace(r.txn, r.state);

  // Prepared on the node: the engine must hold it too, else its writes are lost.
  std::vector<TxnId> lost;
  for (const auto& [txn, state] : records) {
    if (state == ParticipantState::Prepared &&
        !std::binary_search(listed.begin(), listed.end(), txn)) {
      lost.push_back(txn);
    }
  }
  if (!lost.empty()) {
    std::string ids;
    for (size_t i = 0; i < lost.size() && i < 10; ++i) ids += (i ? ", " : "") + lost[i].toString();
    if (lost.size() > 10) ids += ", ...";
    throw ResourceManagerContractError(
        std::to_string(lost.size()) +
        " transaction(s) prepared on this node are not prepared in the storage engine (" + ids +
        "): the engine lost prepared state it had reported durable (ResourceManager::prepare "
        "returned Prepared before its writes were durable, or its data was replaced). The node "
        "voted Prepared for them and cannot apply their writes; refusing to start");
  }

  for (const TxnId& txn : listed) {
    auto it = records.find(txn);
    if (it != records.end() && it->second == ParticipantState::Prepared) {
      report_.kept.push_back(txn);  // restorePrepared() takes its read locks
      continue;
    }
    if (it != records.end() && it->second == ParticipantState::Committed) {
      // The node's Committed record was durable; the crash came before the engine commit.
      rm_.commit(txn);
      report_.committed.push_back(txn);
      log("reconcile: txn " + txn.toString() + " committed in the engine (node record: committed)");
      continue;
    }
    // Aborted, VotedAborted, or no record: the node's Prepared record never became durable,
    // so no Prepared vote left this node and the transaction cannot commit.
    rm_.abort(txn);
    report_.aborted.push_back(txn);
    log("reconcile: txn " + txn.toString() + " aborted in the engine (node record: " +
        (it == records.end() ? std::string("none") : std::string(toString(it->second))) + ")");
  }
  log("reconcile: the engine listed " + std::to_string(listed.size()) +
      " prepared: " + std::to_string(report_.kept.size()) + " in doubt, " +
      std::to_string(report_.committed.size()) + " committed, " +
      std::to_string(report_.aborted.size()) + " aborted");
}

void RmEngine::outcomeDurable(const TxnId& txn, Outcome o) {
  if (!locks_.knows(txn)) return;  // voted Aborted: the engine holds nothing
  if (o == Outcome::Commit) {
    rm_.commit(txn);
  } else {
    rm_.abort(txn);
  }
  locks_.unlock(txn);
}

std::optional<TxnId> RmEngine::lockHolder(const std::string& key) const {
  return locks_.holder(key);
}

// The first prepared transaction touching a key holds it for reads; the engine's own
// locks decide conflicts.
void RmEngine::lock(const TxnId& txn, const Bytes& payload) {
  // Not a KV payload: the engine's own business; the transaction is known, reads never wait.
  auto ops = kv::decodeOps(payload);
  locks_.lock(txn, ops ? *ops : std::vector<kv::Op>{});
}

}  // namespace pc
