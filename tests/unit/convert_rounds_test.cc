// The edge refuses ballots whose round is above kRoundMax (issue 12 (3)): a leader seeing
// round 2^64-1 computed round + 1 = 0 and could never go above it. If this failed, a peer
// could still push such a ballot into the core (which refuses it too, counted).
#include <capnp/message.h>

#include <limits>

#include "rpc/convert.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

std::variant<Message, std::string> roundTrip(const Message& m) {
  capnp::MallocMessageBuilder b;
  rpc::toWire(m, b.initRoot<wire::Message>());
  return rpc::fromWire(b.getRoot<wire::Message>().asReader(), rpc::Limits{});
}

TEST_CASE("rounds: the edge refuses a 1a, 2a, 1b or 2b above the round bound, naming it") {
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  TxnId t = txnId(1);
  Phase1b b1 =
      promise(t, kA1, ballot(1, kCoord), {kP1}, {voted(kP1, ballot(huge, kCoord), Vote::Prepared)});
  for (const Message& m :
       {Message{phase1a(t, ballot(huge, kCoord), {kP1})},
        Message{phase2a(t, ballot(kRoundMax + 1, kCoord), {{kP1, Vote::Prepared}}, {kP1}, kCoord)},
        Message{b1},
        Message{phase2b(t, kA1, {iv(kP1, ballot(huge, kCoord), Vote::Aborted)}, {kP1})}}) {
    auto r = roundTrip(m);
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK(std::get<std::string>(r).find("round") != std::string::npos);
  }
  // The bound itself passes.
  auto ok = roundTrip(Message{phase1a(t, ballot(kRoundMax, kCoord), {kP1})});
  CHECK(std::holds_alternative<Message>(ok));
}

}  // namespace
}  // namespace pc
