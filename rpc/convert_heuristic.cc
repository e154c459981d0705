// Node.resolve's values at the edge (rpc/convert.h): heuristic decisions, docs/PROTOCOL.md
// §9. Every enum read from the wire is checked, never cast.
#include <kj/exception.h>

#include "rpc/convert.h"

namespace pc::rpc {

namespace {

wire::HeuristicMark markToWire(Heuristic h) {
  switch (h) {
    case Heuristic::None:
      return wire::HeuristicMark::NONE;
    case Heuristic::Pending:
      return wire::HeuristicMark::PENDING;
    case Heuristic::Agreed:
      return wire::HeuristicMark::AGREED;
    case Heuristic::Mismatch:
      return wire::HeuristicMark::MISMATCH;
  }
  return wire::HeuristicMark::NONE;
}

std::optional<Heuristic> markFromWire(wire::HeuristicMark m) {
  switch (m) {
    case wire::HeuristicMark::NONE:
      return Heuristic::None;
    case wire::HeuristicMark::PENDING:
      return Heuristic::Pending;
    case wire::HeuristicMark::AGREED:
      return Heuristic::Agreed;
    case wire::HeuristicMark::MISMATCH:
      return Heuristic::Mismatch;
  }
  return std::nullopt;
}

// Both enums number their values alike (1..6; 0 = none on the wire).
constexpr uint16_t kResultMax = static_cast<uint16_t>(HeuristicResult::Refused);

}  // namespace

wire::Outcome resolveOutcomeToWire(std::optional<Outcome> o) {
  if (!o) return wire::Outcome::NONE;
  return *o == Outcome::Commit ? wire::Outcome::COMMIT : wire::Outcome::ABORT;
}

std::variant<std::optional<Outcome>, std::string> resolveOutcomeFromWire(wire::Outcome o) {
  switch (o) {
    case wire::Outcome::NONE:
      return std::optional<Outcome>();
    case wire::Outcome::COMMIT:
      return std::optional<Outcome>(Outcome::Commit);
    case wire::Outcome::ABORT:
      return std::optional<Outcome>(Outcome::Abort);
  }
  return std::string("invalid outcome");
}

void toWire(const HeuristicAnswer& a, wire::HeuristicAnswer::Builder b) {
  b.setResult(static_cast<wire::HeuristicResult>(static_cast<uint16_t>(a.result)));
  b.setOutcome(resolveOutcomeToWire(a.outcome));
  b.setHeuristic(markToWire(a.heuristic));
  b.setLeader(a.leader);
  b.setReason(capnp::Text::Reader(a.reason.data(), a.reason.size()));
}

std::variant<HeuristicAnswer, std::string> fromWire(wire::HeuristicAnswer::Reader r,
                                                    const Limits& limits) {
  std::variant<HeuristicAnswer, std::string> result = std::string("unreadable answer");
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 HeuristicAnswer a;
                 auto res = static_cast<uint16_t>(r.getResult());
                 if (res == 0 || res > kResultMax) {
                   result = std::string("invalid result");
                   return;
                 }
                 a.result = static_cast<HeuristicResult>(res);
                 auto outcome = resolveOutcomeFromWire(r.getOutcome());
                 auto mark = markFromWire(r.getHeuristic());
                 if (std::holds_alternative<std::string>(outcome) || !mark) {
                   result = std::string("invalid outcome or heuristic mark");
                   return;
                 }
                 a.outcome = std::get<std::optional<Outcome>>(outcome);
                 a.heuristic = *mark;
                 a.leader = r.getLeader();
                 auto reason = r.getReason();
                 if (reason.size() > limits.maxReasonBytes) {
                   result = std::string("reason too long");
                   return;
                 }
                 a.reason = std::string(reason.cStr(), reason.size());
                 result = std::move(a);
               })) {
    result = std::string("malformed: ") + e->getDescription().cStr();
  }
  return result;
}

}  // namespace pc::rpc
