#include "paxos_commit/heuristic.h"

namespace pc {

const char* toString(Heuristic h) {
  switch (h) {
    case Heuristic::None:
      return "none";
    case Heuristic::Pending:
      return "pending";
    case Heuristic::Agreed:
      return "agreed";
    case Heuristic::Mismatch:
      return "mismatch";
  }
  return "?";
}

const char* toString(HeuristicResult r) {
  switch (r) {
    case HeuristicResult::Resolved:
      return "resolved";
    case HeuristicResult::InDoubt:
      return "in-doubt";
    case HeuristicResult::Decided:
      return "decided";
    case HeuristicResult::Unknown:
      return "unknown";
    case HeuristicResult::Forgotten:
      return "forgotten";
    case HeuristicResult::Refused:
      return "refused";
  }
  return "?";
}

}  // namespace pc
