// The edge between Cap'n Proto and the core: converts plain core messages to wire
// builders, and wire readers to plain core messages, validating every field. Cap'n Proto
// readers never enter the core (docs/DESIGN.md §1). Invalid input yields an error string (the
// caller drops the message, counts it and logs once per peer); it never throws past here.
#pragma once

#include <string>
#include <variant>

#include "paxos_commit/heuristic.h"
#include "paxos_commit/messages.h"
#include "rpc/pcommit.capnp.h"

namespace pc::rpc {

// Bounds on what a peer may send (bad input beyond them is refused, not trusted).
struct Limits {
  size_t maxPayloadBytes = 1 << 20;  // one participant's payload
  size_t maxParticipants = 64;
  size_t maxReasonBytes = 4096;
  size_t maxBatch = 4096;                         // messages in one deliver() call
  size_t maxAcksPerBatch = 4 * kMaxAcksPerBatch;  // entries of one AckBatch
};

void toWire(const Message& m, wire::Message::Builder b);
// Either the message or why it was refused.
std::variant<Message, std::string> fromWire(wire::Message::Reader r, const Limits& limits);

wire::TxnId::Builder setTxn(wire::TxnId::Builder b, const TxnId& t);
TxnId getTxn(wire::TxnId::Reader r);

// Node.resolve (convert_heuristic.cc). The requested outcome: nullopt for none (a question),
// an error string for a value out of range. The answer both ways; one read from a node is
// hostile input like any other (error string: why it was refused).
wire::Outcome resolveOutcomeToWire(std::optional<Outcome> o);
std::variant<std::optional<Outcome>, std::string> resolveOutcomeFromWire(wire::Outcome o);
void toWire(const HeuristicAnswer& a, wire::HeuristicAnswer::Builder b);
std::variant<HeuristicAnswer, std::string> fromWire(wire::HeuristicAnswer::Reader r,
                                                    const Limits& limits);

}  // namespace pc::rpc
