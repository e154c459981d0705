// Who is in the cluster, and who may send what (issue 12: the trust boundary). The core
// takes a node's identity from the envelope (`from`, set by the transport), never from a
// message field alone, and counts and trusts only the members with a part in a message:
//
//   message           accepted from
//   Phase1b, Phase2b  a configured acceptor, and only when m.acceptor == from
//   Phase1a, Phase2a  ballot 0: the participant of that instance (== from); in
//   (at acceptors)    `2pc-replicated` (one decision instance) a configured coordinator,
//                     and only the value Prepared (Commit);
//                     ballot > 0: its leader (== from), a coordinator or a participant of
//                     the transaction -- in `paxos-direct` also a client (not a member)
//   Prepare           a configured coordinator naming itself as leader; in `paxos-direct`
//                     also any client (the leader at ballot 0), in `paxos` and
//                     `paxos-classic` a client id (isClientId: a client in direct mode)
//   OutcomeMsg        a configured coordinator or a participant of the transaction (a
//                     recovery leader); in 2PC only the coordinator that prepared it
//   VoteMsg, Ack      the participant named in it (== from), a participant of the txn
//   AckRequest        a configured acceptor (Paxos) or coordinator (2PC)
//   CommitRequest,    anyone (clients are not members), but every participant named must
//   OutcomeQuery      be a configured participant: nothing durable for non-members
//
// Refused messages are counted in Node::rejected() (the host logs them, bounded).
#pragma once

#include <string>

#include "paxos_commit/config.h"
#include "paxos_commit/messages.h"

namespace pc {

bool isAcceptor(const CoreConfig& cfg, NodeId id);
bool isCoordinator(const CoreConfig& cfg, NodeId id);
bool isParticipant(const CoreConfig& cfg, NodeId id);
// The first id of `list` that is not a configured participant, or kNoNode.
NodeId firstNonMember(const CoreConfig& cfg, const ParticipantList& list);
// A phase 1b/2b may count only if it comes from a configured acceptor speaking for itself.
bool fromAcceptor(const CoreConfig& cfg, NodeId from, NodeId acceptor);
// May `from` lead a ballot > 0 of a transaction of `participants`? (see the table above)
bool mayLead(const CoreConfig& cfg, NodeId from, const ParticipantList& participants);
// May `from` send this ballot-0 vote? (see the table above)
bool mayVoteAtZero(const CoreConfig& cfg, NodeId from, const InstanceVote& v);

// Checks a CommitRequest from outside: non-zero id, 1..N payloads sorted by participant,
// unique, non-zero ids. Returns the problem, or empty when valid.
std::string validateRequest(const CommitRequest& req);
// validateRequest, and every participant a member of the cluster (named in the answer).
std::string validateRequest(const CommitRequest& req, const CoreConfig& cfg);

}  // namespace pc
