// Node.resolve's values at the edge (rpc/convert_heuristic.cc): an answer round-trips, and an
// answer or request with an out-of-range enum or an oversized reason is refused with a
// reason, never cast into the core's enums. If this failed, a hostile participant could make
// `pcommit resolve` report an outcome that does not exist.
#include <capnp/message.h>

#include "rpc/convert.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

std::variant<HeuristicAnswer, std::string> roundTrip(const HeuristicAnswer& a,
                                                     const rpc::Limits& lim = {}) {
  capnp::MallocMessageBuilder b;
  rpc::toWire(a, b.initRoot<wire::HeuristicAnswer>());
  return rpc::fromWire(b.getRoot<wire::HeuristicAnswer>().asReader(), lim);
}

TEST_CASE("a heuristic answer round-trips for every result and mark") {
  for (int r = 1; r <= 6; ++r) {
    for (Heuristic h :
         {Heuristic::None, Heuristic::Pending, Heuristic::Agreed, Heuristic::Mismatch}) {
      HeuristicAnswer a{static_cast<HeuristicResult>(r), Outcome::Abort, h, 1, "why"};
      auto got = roundTrip(a);
      REQUIRE(std::holds_alternative<HeuristicAnswer>(got));
      CHECK(std::get<HeuristicAnswer>(got) == a);
    }
  }
  HeuristicAnswer inDoubt{HeuristicResult::InDoubt, std::nullopt, Heuristic::None, 1, ""};
  CHECK(std::get<HeuristicAnswer>(roundTrip(inDoubt)) == inDoubt);
}

TEST_CASE("an answer with a bad enum or an oversized reason is refused") {
  capnp::MallocMessageBuilder b;
  auto w = b.initRoot<wire::HeuristicAnswer>();
  w.setResult(static_cast<wire::HeuristicResult>(7));
  auto bad = rpc::fromWire(w.asReader(), rpc::Limits{});
  REQUIRE(std::holds_alternative<std::string>(bad));
  CHECK(std::get<std::string>(bad) == "invalid result");
  w.setResult(wire::HeuristicResult::NONE);
  CHECK(std::holds_alternative<std::string>(rpc::fromWire(w.asReader(), rpc::Limits{})));
  w.setResult(wire::HeuristicResult::RESOLVED);
  w.setHeuristic(static_cast<wire::HeuristicMark>(9));
  CHECK(std::holds_alternative<std::string>(rpc::fromWire(w.asReader(), rpc::Limits{})));
  w.setHeuristic(wire::HeuristicMark::NONE);
  w.setOutcome(static_cast<wire::Outcome>(5));
  CHECK(std::holds_alternative<std::string>(rpc::fromWire(w.asReader(), rpc::Limits{})));
  rpc::Limits small;
  small.maxReasonBytes = 2;
  HeuristicAnswer chatty{HeuristicResult::Refused, std::nullopt, Heuristic::None, 0, "long"};
  auto r = roundTrip(chatty, small);
  REQUIRE(std::holds_alternative<std::string>(r));
  CHECK(std::get<std::string>(r) == "reason too long");
}

TEST_CASE("a resolve request's outcome: none asks, commit/abort decide, anything else is refused") {
  using R = std::variant<std::optional<Outcome>, std::string>;
  CHECK((rpc::resolveOutcomeFromWire(wire::Outcome::NONE) == R(std::optional<Outcome>())));
  CHECK((rpc::resolveOutcomeFromWire(wire::Outcome::COMMIT) == R(std::optional(Outcome::Commit))));
  CHECK((rpc::resolveOutcomeFromWire(wire::Outcome::ABORT) == R(std::optional(Outcome::Abort))));
  CHECK(std::holds_alternative<std::string>(
      rpc::resolveOutcomeFromWire(static_cast<wire::Outcome>(3))));
}

}  // namespace
}  // namespace pc
