@0x8f5f83c70a5807f1;
# pcommit wire protocol, version 1. This file is the protocol document: every message of
# docs/PROTOCOL.md §2, the envelope that carries a batch of them, and the interfaces nodes and
# clients call. Rules: fields are never renumbered or reused; new fields get new numbers;
# a receiver validates every field at the edge (rpc/convert.cc) and drops what is invalid.

$import "/capnp/c++.capnp".namespace("pc::wire");

# ---- value types ----

struct TxnId {
  hi @0 :UInt64;   # client clock (microseconds) by convention; orders ids by age
  lo @1 :UInt64;   # random bits
}

struct Ballot {
  round @0 :UInt64;   # 0 = ballot 0, the participant's own vote; > 0 a leader's ballot
  leader @1 :UInt32;  # node id of the leader owning the ballot (0 for ballot 0)
}

enum Vote { none @0; prepared @1; aborted @2; }      # none: never valid on the wire
enum Outcome { none @0; commit @1; abort @2; }
enum TxnStatus { none @0; committed @1; aborted @2; unknown @3; forgotten @4; }

struct ParticipantPayload {
  participant @0 :UInt32;  # node id of the participant (shard)
  payload @1 :Data;        # opaque to the protocol; the built-in KV engine's op list
}

struct InstanceVote {
  instance @0 :UInt32;  # participant whose vote this Paxos instance decides
  ballot @1 :Ballot;
  vote @2 :Vote;
}

struct InstanceReport {
  instance @0 :UInt32;
  hasVote @1 :Bool;    # false: this acceptor never voted in the instance (bal = -1)
  bal @2 :Ballot;      # meaningful only if hasVote
  val @3 :Vote;        # meaningful only if hasVote
}

# ---- messages (docs/PROTOCOL.md §2) ----

# client -> coordinator: commit these per-participant payloads atomically.
struct CommitRequest {
  txn @0 :TxnId;
  payloads @1 :List(ParticipantPayload);  # sorted by participant, unique
}

# coordinator (or the client's own leader) -> client: the result.
struct CommitReply {
  txn @0 :TxnId;
  status @1 :TxnStatus;
  reason @2 :Text;      # why aborted / why unknown
}

# leader or 2PC coordinator -> participant: prepare your part of txn.
struct Prepare {
  txn @0 :TxnId;
  payload @1 :Data;
  participants @2 :List(UInt32);  # every participant of txn, sorted
  leader @3 :UInt32;              # where votes (2PC) or phase 2b (Paxos) go
}

# participant -> 2PC coordinator: its vote.
struct VoteMsg {
  txn @0 :TxnId;
  participant @1 :UInt32;
  vote @2 :Vote;
  reason @3 :Text;      # why Aborted
  owner @4 :UInt32;     # non-zero: prepared under that other coordinator; do not decide
}

# leader -> acceptors: phase 1a at ballot (> 0) for every instance of participants; an
# empty participant list only asks for the list (promises nothing).
struct Phase1a {
  txn @0 :TxnId;
  ballot @1 :Ballot;
  participants @2 :List(UInt32);
}

# acceptor -> leader: phase 1b.
struct Phase1b {
  txn @0 :TxnId;
  acceptor @1 :UInt32;
  ballot @2 :Ballot;             # the 1a's ballot
  promised @3 :Bool;             # mbal = ballot is durable for every instance
  forgotten @4 :Bool;            # the transaction was garbage-collected here
  mbal @5 :Ballot;               # if not promised: the higher ballot promised already
  participants @6 :List(UInt32); # as stored with the votes; empty if unknown
  reports @7 :List(InstanceReport);
  outcome @8 :Outcome;           # forgotten: the outcome every participant acked, if kept
}

# participant (ballot 0, own instance) or leader (ballot > 0) -> acceptors: phase 2a.
struct Phase2a {
  txn @0 :TxnId;
  participants @1 :List(UInt32);  # full list; acceptors store it with the vote
  leader @2 :UInt32;              # where phase 2b goes
  votes @3 :List(InstanceVote);
  reason @4 :Text;                # ballot-0 Aborted: the participant's reason
}

# acceptor -> leader (and participants in the faster variant): phase 2b, bundled per txn.
struct Phase2b {
  txn @0 :TxnId;
  acceptor @1 :UInt32;
  participants @2 :List(UInt32);
  votes @3 :List(InstanceVote);
  forgotten @4 :Bool;
  reason @5 :Text;
  outcome @6 :Outcome;           # forgotten: the outcome every participant acked, if kept
}

# leader / 2PC coordinator -> participants: the decision (phase 3).
struct OutcomeMsg {
  txn @0 :TxnId;
  outcome @1 :Outcome;
}

# participant -> acceptors / 2PC coordinator: my outcome is durable (for GC).
struct Ack {
  txn @0 :TxnId;
  participant @1 :UInt32;
  outcome @2 :Outcome;      # none: finished and forgotten long ago, no longer known
}

# participant -> acceptors: the acks of many transactions in one message, sent once per tick
# (GC acks batched, docs/PROTOCOL.md §4). Every entry is an Ack naming the sender as its
# participant; at most Limits::maxAcksPerBatch entries (rpc/convert.h), never none.
struct AckBatch {
  acks @0 :List(Ack);
}

# acceptor / coordinator -> participant: ack please, if your outcome is durable.
struct AckRequest {
  txn @0 :TxnId;
}

# anyone -> coordinator: what became of txn? (participants may be empty)
struct OutcomeQuery {
  txn @0 :TxnId;
  participants @1 :List(UInt32);
}

# coordinator -> asker.
struct OutcomeReply {
  txn @0 :TxnId;
  status @1 :TxnStatus;
}

# One protocol message. Unknown union members (from a newer peer) are dropped, counted.
struct Message {
  union {
    commitRequest @0 :CommitRequest;
    commitReply @1 :CommitReply;
    prepare @2 :Prepare;
    vote @3 :VoteMsg;
    phase1a @4 :Phase1a;
    phase1b @5 :Phase1b;
    phase2a @6 :Phase2a;
    phase2b @7 :Phase2b;
    outcome @8 :OutcomeMsg;
    ack @9 :Ack;
    ackRequest @10 :AckRequest;
    outcomeQuery @11 :OutcomeQuery;
    outcomeReply @12 :OutcomeReply;
    ackBatch @13 :AckBatch;
  }
}

# ---- the delivery stream (rpc/transport_stream.cc) ----

# A member's outbound connection to another member, or a client's to a node, carries,
# after the 8 bytes "pcstrm01", a sequence of StreamFrames in Cap'n Proto's standard
# framing, one way: no call, return or finish per delivery. The receiver writes back acks
# and a refusal, and, to a client whose first frame set `sink`, that client's messages.
# The get/status/resolve calls use the Node interface below.
struct StreamFrame {
  from @0 :UInt32;               # the sender's node id (every frame; checked as deliver's)
  clusterId @1 :Data;            # the first frame: the sender's cluster id (as attach's)
  messages @2 :List(Message);    # as Peer.deliver's, in order
  ackId @3 :UInt64;              # non-zero: answer with a frame whose ack is this, once handled
  ack @4 :UInt64;                # receiver -> sender: the frame with this ackId was handled
  refused @5 :Text;              # receiver -> sender, just before it closes the connection
  sink @6 :Bool;                 # the first frame, from a client: send me my messages back
                                 # on this connection (as attach's sink); a member's id is
                                 # refused
}

# ---- interfaces ----

# Anything that receives protocol messages: a node, or a client's learner.
interface Peer {
  # Delivers a batch of messages from node `from`, in order. Returns once queued (not once
  # handled): delivery is at most once, and the protocol retries what matters.
  deliver @0 (from :UInt32, messages :List(Message)) -> ();
}

struct NodeStatus {
  nodeId @0 :UInt32;
  name @1 :Text;          # c1, p1, a1, ...
  role @2 :Text;          # coordinator | participant | acceptor
  protocol @3 :Text;
  pid @4 :UInt32;
  uptimeMs @5 :UInt64;
  inDoubt @6 :List(InDoubtTxn);  # participants only
  counters @7 :List(Counter);
  version @8 :Text;       # the node's build (pc::libraryVersion()); empty from older nodes
}

struct InDoubtTxn {
  txn @0 :TxnId;
  ageMs @1 :UInt64;
  leader @2 :UInt32;
  recovering @3 :Bool;   # its own recovery leader is running
  waitingFor @4 :Text;   # human-readable: what it waits for
}

struct Counter {
  name @0 :Text;
  value @1 :UInt64;
}

struct Versioned {
  found @0 :Bool;
  value @1 :Data;
  version @2 :UInt64;
}

# ---- heuristic decisions (docs/PROTOCOL.md §9; `pcommit resolve`) ----

enum HeuristicMark { none @0; pending @1; agreed @2; mismatch @3; }
enum HeuristicResult { none @0; resolved @1; inDoubt @2; decided @3; unknown @4; forgotten @5; refused @6; }

# A participant's answer to Node.resolve (paxos_commit/heuristic.h HeuristicAnswer).
struct HeuristicAnswer {
  result @0 :HeuristicResult;  # none: never valid on the wire
  outcome @1 :Outcome;          # the outcome there now; none: in doubt or no record
  heuristic @2 :HeuristicMark;  # decided by an operator, and what the coordinator said since
  leader @3 :UInt32;            # 2PC: the coordinator that prepared it (0: unknown)
  reason @4 :Text;              # refused: why
}

# The bootstrap interface every node serves on its port.
interface Node extends(Peer) {
  # Introduces the caller. A node (from = its id) or a client (from = its client id, with
  # the high bit set) hands over the sink where messages for it are to be delivered.
  # clusterId: the caller's cluster id (the cluster file's cluster-id, 16 bytes), or empty
  # when it has none. Nodes call attach on every connection they open (without a sink),
  # clients with their sink. A node with a cluster id refuses a caller of another cluster:
  # the attach fails and every later call on that connection too (counted, logged once per
  # caller id); the connection then ends at the idle timeout or when the caller closes it.
  attach @0 (from :UInt32, sink :Peer, clusterId :Data) -> ();
  # Health and in-doubt transactions (pcommit cluster status).
  status @1 () -> (status :NodeStatus);
  # Participants: read committed data (pcommit get).
  get @2 (key :Data) -> (result :Versioned);
  # Participants, 2PC: an operator's heuristic decision for txn (`pcommit resolve`), sent as
  # client `from` (high bit set); outcome none only asks. Answers once the decision is
  # durable. Other roles and protocols answer refused.
  resolve @3 (from :UInt32, txn :TxnId, outcome :Outcome) -> (answer :HeuristicAnswer);
}
