#include "tests/storage/test_util.h"

#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace pc::storage::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pc_storage_test.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  REQUIRE(::mkdtemp(buf.data()) != nullptr);
  path_ = buf.data();
}

TempDir::~TempDir() { removeTree(path_); }

std::string TempDir::sub(const std::string& name, bool mkdir) const {
  std::string p = path_ + "/" + name;
  if (mkdir) std::filesystem::create_directories(p);
  return p;
}

void removeTree(const std::string& path) {
  std::error_code ec;
  // Restore permissions a test may have taken away, then remove.
  std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path, ec);
}

ChildResult runInChild(const std::function<void()>& body, int timeoutMs) {
  int errPipe[2];
  REQUIRE(::pipe2(errPipe, O_CLOEXEC) == 0);
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child is not a test runner: default signal dispositions (doctest's handlers
    // would report a "crashed test" and hide the real signal), output to the pipe.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM}) ::signal(sig, SIG_DFL);
    ::dup2(errPipe[1], 1);
    ::dup2(errPipe[1], 2);
    ::close(errPipe[0]);
    int code = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
      code = 99;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(code);
  }
  ::close(errPipe[1]);
  ChildResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      r.err += "\n[test: child timed out and was killed]";
      break;
    }
    pollfd p{errPipe[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n <= 0) continue;
    ssize_t got = ::read(errPipe[0], buf, sizeof buf);
    if (got <= 0) break;
    r.err.append(buf, static_cast<size_t>(got));
  }
  ::close(errPipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

void rawPut(const std::string& dir, const char* db, const std::string& key,
            const std::string& value) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 16);
  mdb_env_set_mapsize(env, size_t{64} << 20);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &t) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(t, db, 0, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  REQUIRE(mdb_put(t, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(t) == 0);
  mdb_env_close(env);
}

Recovered normalized(Recovered r) {
  auto byTxn = [](const auto& a, const auto& b) { return a.txn < b.txn; };
  std::sort(r.acceptorTxns.begin(), r.acceptorTxns.end(), byTxn);
  std::sort(r.participantTxns.begin(), r.participantTxns.end(), byTxn);
  std::sort(r.decisions.begin(), r.decisions.end(), byTxn);
  std::sort(r.acceptorTombstones.begin(), r.acceptorTombstones.end());
  return r;
}

std::string describe(const Recovered& r) {
  std::ostringstream os;
  os << "acceptorTxns=" << r.acceptorTxns.size() << " [";
  for (const auto& a : r.acceptorTxns) os << a.txn << "(" << a.instances.size() << ") ";
  os << "] tombstones=" << r.acceptorTombstones.size() << " [";
  for (const auto& t : r.acceptorTombstones)
    os << t.txn << ":" << (t.outcome ? toString(*t.outcome) : "?") << " ";
  os << "] acceptorLW=" << r.acceptorLowWater << " participantTxns=" << r.participantTxns.size()
     << " [";
  for (const auto& p : r.participantTxns) os << p.txn << ":" << toString(p.state) << " ";
  os << "] participantLW=" << r.participantLowWater << " leaderRound=" << r.leaderRound
     << " decisions=" << r.decisions.size() << " [";
  for (const auto& d : r.decisions) os << d.txn << (d.done ? ":done " : ":pending ");
  os << "] decisionLW=" << r.decisionLowWater;
  return os.str();
}

void Reference::apply(const Record& r) {
  if (const auto* p = std::get_if<ParticipantTxnRecord>(&r)) {
    if (p->state == ParticipantState::Committed) {
      bool wasCommitted = false;
      for (const auto& q : image.participantTxns) {
        if (q.txn == p->txn) wasCommitted = q.state == ParticipantState::Committed;
      }
      if (!wasCommitted) {
        auto ops = kv::decodeOps(p->payload);
        REQUIRE(ops.has_value());
        kv::applyOps(kv, *ops);
      }
    }
  }
  applyRecord(image, r);
}

ParticipantList RecordGen::someParticipants(bool nonEmpty) {
  ParticipantList l;
  for (NodeId n = 1; n <= 5; ++n) {
    if (pick(2) == 0) l.push_back(n);
  }
  if (nonEmpty && l.empty()) l.push_back(static_cast<NodeId>(1 + pick(5)));
  return l;
}

std::vector<std::string> RecordGen::keys() const {
  std::string longPrefix(600, 'L');
  return {"a", "b", "c", std::string("bin\0\xff", 5), longPrefix + "1", longPrefix + "2"};
}

Bytes RecordGen::somePayload() {
  auto ks = keys();
  std::vector<kv::Op> ops;
  size_t n = 1 + pick(4);
  for (size_t i = 0; i < n; ++i) {
    kv::Op op;
    op.key = ks[pick(ks.size())];
    switch (pick(3)) {
      case 0:
        op.kind = kv::OpKind::Put;
        op.value = "v" + std::to_string(pick(1000)) + std::string(pick(3) == 0 ? 300 : 0, 'x');
        break;
      case 1:
        op.kind = kv::OpKind::Del;
        break;
      default:
        op.kind = kv::OpKind::Expect;
        op.version = pick(5);
        break;
    }
    ops.push_back(op);
  }
  return kv::encodeOps(ops);
}

Record RecordGen::next() {
  switch (pick(20)) {
    case 0:
    case 1:
    case 2:
    case 3: {
      AcceptorTxnRecord a;
      a.txn = someTxn();
      // A forgotten transaction never comes back to life at the acceptor (load() refuses
      // a record beside a tombstone): forget it again instead.
      if (forgotten_.count(a.txn) != 0) return AcceptorForgetRecord{a.txn, Outcome::Abort};
      a.participants = someParticipants(true);
      a.leader = static_cast<NodeId>(pick(4));
      for (NodeId i : a.participants) {
        AcceptorInstance in;
        in.instance = i;
        in.mbal = someBallot();
        if (pick(2) == 0) {
          in.bal = std::min(in.mbal, someBallot());  // a vote is never above the promise
          in.val = pick(2) == 0 ? Vote::Prepared : Vote::Aborted;
        }
        a.instances.push_back(in);
      }
      return a;
    }
    case 4:
    case 5: {
      TxnId t = someTxn();
      forgotten_.insert(t);
      return AcceptorForgetRecord{t, pick(2) == 0 ? Outcome::Commit : Outcome::Abort};
    }
    case 6:
      return AcceptorLowWaterRecord{someTxn()};
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 12: {
      ParticipantTxnRecord p;
      p.txn = someTxn();
      p.state = static_cast<ParticipantState>(1 + pick(4));
      p.payload = somePayload();
      // Prepared and Committed records come from a prepare: participants and a leader.
      const bool fromPrepare =
          p.state == ParticipantState::Prepared || p.state == ParticipantState::Committed;
      p.participants = someParticipants(fromPrepare);
      p.leader = static_cast<NodeId>(pick(4) + (fromPrepare ? 1 : 0));
      if (p.state == ParticipantState::VotedAborted) p.reason = "conflict on \"a\"\n";
      return p;
    }
    case 13:
      return ParticipantLowWaterRecord{someTxn()};
    case 14:
    case 15:
      return LeaderRoundRecord{pick(50)};
    case 16:
    case 17:
    case 18: {
      bool done = pick(2) == 0;
      return DecisionRecord{someTxn(), someParticipants(!done), done};
    }
    default:
      return DecisionLowWaterRecord{someTxn()};
  }
}

void checkSame(const Recovered& got, const Recovered& want) {
  INFO("got:  " << describe(got));
  INFO("want: " << describe(want));
  CHECK(got.acceptorTxns == want.acceptorTxns);
  CHECK(got.acceptorTombstones == want.acceptorTombstones);
  CHECK(got.acceptorLowWater == want.acceptorLowWater);
  CHECK(got.participantTxns == want.participantTxns);
  CHECK(got.participantLowWater == want.participantLowWater);
  CHECK(got.leaderRound == want.leaderRound);
  CHECK(got.decisions == want.decisions);
  CHECK(got.decisionLowWater == want.decisionLowWater);
}

std::map<std::string, uint64_t> otherThreadsBlocked() {
  std::map<std::string, uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    const std::string tid = e.path().filename().string();
    if (tid == std::to_string(::getpid())) continue;
    std::ifstream in(e.path() / "status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("SigBlk:", 0) == 0) out[tid] = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return out;
}

}  // namespace pc::storage::test
