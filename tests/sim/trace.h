// The simulator's trace: every event of a run as one line, hashed (a run replays to the
// same hash: the determinism test) and kept as a short tail for failure reports. With echo
// on (`pc_sim --trace`) every line is printed as it happens.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "paxos_commit/hash.h"
#include "paxos_commit/messages.h"
#include "paxos_commit/records.h"

namespace pc::sim {

class Trace {
 public:
  explicit Trace(size_t tailLinesMax = 40) : tailLinesMax_(tailLinesMax) {}

  // Prints every line from now on (and the lines so far, if they are all still kept).
  void setEcho(std::ostream* os);
  void add(uint64_t tick, const std::string& line);

  uint64_t hash() const { return hash_; }
  uint64_t lineCount() const { return lineCount_; }
  // The last lines, oldest first.
  std::vector<std::string> tail() const { return {tail_.begin(), tail_.end()}; }

 private:
  size_t tailLinesMax_;
  std::deque<std::string> tail_;
  uint64_t hash_ = kFnv1a64Offset;  // FNV-1a 64 over every line
  uint64_t lineCount_ = 0;
  std::ostream* echo_ = nullptr;
};

// Short readable names: nodes c1 / p3 / a2 / cl1, transactions T7 (by registration order).
class Names {
 public:
  void addNode(NodeId id, std::string name) { nodes_[id] = std::move(name); }
  void addTxn(const TxnId& txn) { txns_.emplace(txn, "T" + std::to_string(txns_.size() + 1)); }
  std::string node(NodeId id) const;
  std::string txn(const TxnId& t) const;
  std::string ballot(const Ballot& b) const;
  std::string list(const ParticipantList& l) const;
  std::string message(const Envelope& e) const;  // "c1->p2 Prepare T3 ..."
  std::string record(const Record& r) const;

 private:
  std::map<NodeId, std::string> nodes_;
  std::map<TxnId, std::string> txns_;
};

}  // namespace pc::sim
