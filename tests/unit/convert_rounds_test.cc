// The edge refuses ballots whose round is above kRoundMax (issue 12 (3)): a leader seeing
// round 2^64-1 computed round + 1 = 0 and could never go above it. If this failed, a peer
// could still push such a ballot into the core (which refuses it too, counted).
// Also the edge's checks of an AckBatch (GC acks batched, docs/PROTOCOL.md §4): the same
// validation per entry as an Ack alone, and a bounded, non-empty list.
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

TEST_CASE("ack batches: the edge carries a batch and refuses an empty or oversize one") {
  AckBatch b{{Ack{txnId(1), kP1, Outcome::Commit}, Ack{txnId(2), kP1, std::nullopt},
              Ack{txnId(3), kP1, Outcome::Abort}}};
  auto ok = roundTrip(Message{b});
  REQUIRE(std::holds_alternative<Message>(ok));
  CHECK(std::get<Message>(ok) == Message{b});
  CHECK(messageTxn(Message{b}) == txnId(1));

  auto empty = roundTrip(Message{AckBatch{}});
  REQUIRE(std::holds_alternative<std::string>(empty));
  CHECK(std::get<std::string>(empty) == "empty ack batch");

  AckBatch big;
  big.acks.assign(rpc::Limits{}.maxAcksPerBatch + 1, Ack{txnId(1), kP1, Outcome::Commit});
  auto over = roundTrip(Message{big});
  REQUIRE(std::holds_alternative<std::string>(over));
  CHECK(std::get<std::string>(over) == "too many acks in one batch");

  // One bad entry (a zero transaction id, or node id 0) refuses the whole message.
  for (const Ack& bad :
       {Ack{TxnId{}, kP1, Outcome::Commit}, Ack{txnId(4), kNoNode, std::nullopt}}) {
    AckBatch withBad = b;
    withBad.acks.push_back(bad);
    CHECK(std::holds_alternative<std::string>(roundTrip(Message{withBad})));
  }
}

}  // namespace
}  // namespace pc
