// Failpoints (runtime/failpoints.h): specs parse or are refused with a clear message, and
// each action does what the fault tests rely on -- crash dies by SIGKILL, hang blocks,
// delay sleeps, @N triggers on the N-th hit only. Crash and hang run in forked children.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/failpoints.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

using namespace pc::runtime;

namespace {

std::string errorOf(const std::string& spec) {
  try {
    Failpoints fp(spec);
  } catch (const FailpointError& e) {
    return e.what();
  }
  return "(no error)";
}

struct ChildResult {
  int status = 0;
  std::string output;  // what the child wrote to stdout + stderr
};

// Runs `body` in a forked child with stdout and stderr captured; waits for it (the body
// must end the child). A child still running after `timeoutMs` is killed and reported as
// such (status = SIGKILL with output "TIMEOUT").
template <typename Body>
ChildResult runChild(Body body, int timeoutMs = 10000) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    body();
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, 50);
    if (n > 0) {
      char buf[512];
      ssize_t got = ::read(fds[0], buf, sizeof buf);
      if (got > 0) {
        r.output.append(buf, static_cast<size_t>(got));
        continue;
      }
      break;  // EOF: the child is gone (or closed its output)
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      r.output += "TIMEOUT";
      break;
    }
  }
  ::close(fds[0]);
  REQUIRE(::waitpid(pid, &r.status, 0) == pid);
  return r;
}

// Writes straight to fd 1, unbuffered: a child may die by SIGKILL right after.
void say(const std::string& text) {
  ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
  (void)n;  // a lost line fails the test's output check, which is the point
}

bool diedBySigkill(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

}  // namespace

TEST_CASE("good specs parse; whitespace, empty entries and a trailing ';' are fine") {
  // If this fails, a valid PCOMMIT_FAILPOINTS would stop a node from starting.
  Failpoints none;
  CHECK_FALSE(none.armed("coordinator.after_prepare_sent"));
  CHECK(none.describe().empty());
  CHECK(Failpoints("").describe().empty());
  CHECK(Failpoints(" ; ;").describe().empty());

  Failpoints fp(
      " coordinator.after_prepare_sent = crash@3 ;participant.after_vote_sent=hang;"
      "acceptor.before_persist=delay( 25 );");
  CHECK(fp.armed("coordinator.after_prepare_sent"));
  CHECK(fp.armed("participant.after_vote_sent"));
  CHECK(fp.armed("acceptor.before_persist"));
  CHECK_FALSE(fp.armed("acceptor.after_persist_before_reply"));
  CHECK(fp.describe() ==
        "acceptor.before_persist=delay(25);coordinator.after_prepare_sent=crash@3;"
        "participant.after_vote_sent=hang");

  // Every documented name is accepted (docs/DESIGN.md §4 plus the fault suite's steps).
  for (const char* name : {"coordinator.after_prepare_sent", "coordinator.after_decision_persisted",
                           "participant.after_prepare_persisted",
                           "acceptor.after_persist_before_reply", "participant.after_vote_sent",
                           "participant.after_outcome_persisted", "acceptor.before_persist",
                           "coordinator.before_reply", "coordinator.after_decision_chosen"}) {
    std::string nameText = name;
    CAPTURE(nameText);
    CHECK(Failpoints(std::string(name) + "=delay(0)").armed(name));
  }
  CHECK(Failpoints::knownNames().size() == 9);
}

TEST_CASE("bad specs are refused with a message naming the entry and the fix") {
  // If this fails, a typo in a fault test would silently test nothing.
  struct Case {
    const char* spec;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"coordinater.after_prepare_sent=crash", "unknown failpoint 'coordinater."},
           Case{"coordinator.after_prepare_sent", "expected NAME=ACTION"},
           Case{"coordinator.after_prepare_sent=explode", "unknown action 'explode'"},
           Case{"coordinator.after_prepare_sent=delay", "unknown action 'delay'"},
           Case{"coordinator.after_prepare_sent=delay()", "unknown action"},
           Case{"coordinator.after_prepare_sent=delay(x)", "bad delay 'x'"},
           Case{"coordinator.after_prepare_sent=delay(-5)", "bad delay '-5'"},
           Case{"coordinator.after_prepare_sent=delay(600001)", "bad delay '600001'"},
           Case{"coordinator.after_prepare_sent=crash@0", "bad hit count '0'"},
           Case{"coordinator.after_prepare_sent=crash@", "bad hit count ''"},
           Case{"coordinator.after_prepare_sent=crash@two", "bad hit count 'two'"},
           Case{"coordinator.before_reply=hang;coordinator.before_reply=crash", "given twice"},
           Case{"=crash", "unknown failpoint ''"},
       }) {
    std::string spec = c.spec;
    CAPTURE(spec);
    std::string msg = errorOf(c.spec);
    CAPTURE(msg);
    CHECK(msg.rfind("PCOMMIT_FAILPOINTS: bad entry '", 0) == 0);
    CHECK(msg.find(c.mentions) != std::string::npos);
  }
  // The unknown-name message lists the names that exist.
  CHECK(errorOf("x=crash").find("participant.after_prepare_persisted") != std::string::npos);
  // A FailpointError is a ConfigError: a node reports it like a bad cluster file (exit 64).
  CHECK_THROWS_AS(Failpoints("x=crash"), ConfigError);
}

TEST_CASE("fromEnvironment reads PCOMMIT_FAILPOINTS") {
  // If this fails, nodes started by the fault suite would run without their faults.
  ::setenv(kFailpointsEnv, "participant.after_prepare_persisted=delay(1)@2", 1);
  Failpoints fp = Failpoints::fromEnvironment();
  CHECK(fp.armed("participant.after_prepare_persisted"));
  ::setenv(kFailpointsEnv, "", 1);
  CHECK_FALSE(Failpoints::fromEnvironment().armed("participant.after_prepare_persisted"));
  ::setenv(kFailpointsEnv, "bogus=crash", 1);
  CHECK_THROWS_AS(Failpoints::fromEnvironment(), FailpointError);
  ::unsetenv(kFailpointsEnv);
  CHECK(Failpoints::fromEnvironment().describe().empty());
}

TEST_CASE("crash kills the process by SIGKILL and logs the failpoint first") {
  // If this fails, a "crash" would run destructors or flush state a real kill -9 would not.
  ChildResult r = runChild([] {
    Failpoints fp("participant.after_prepare_persisted=crash");
    fp.hit("participant.after_prepare_persisted");
    say("survived\n");
  });
  CAPTURE(r.output);
  CHECK(diedBySigkill(r.status));
  CHECK(r.output.find("failpoint participant.after_prepare_persisted: crash") != std::string::npos);
  CHECK(r.output.find("survived") == std::string::npos);
}

TEST_CASE("crash@3 lets two hits pass and dies on the third") {
  // If this fails, fault tests aimed at the N-th transaction would hit the wrong one.
  ChildResult r = runChild([] {
    Failpoints fp("coordinator.after_prepare_sent=crash@3");
    for (int i = 1; i <= 5; ++i) {
      say("hit " + std::to_string(i) + "\n");
      fp.hit("coordinator.after_prepare_sent");
    }
  });
  CAPTURE(r.output);
  CHECK(diedBySigkill(r.status));
  // The line after "hit 3" is the failpoint's, in the log's format (time, level, message).
  const size_t hit3 = r.output.find("hit 3\n");
  REQUIRE(hit3 != std::string::npos);
  const size_t lineEnd = r.output.find('\n', hit3 + 6);
  REQUIRE(lineEnd != std::string::npos);
  CHECK(r.output.substr(hit3 + 6, lineEnd - hit3 - 6)
            .find(" info  failpoint coordinator.after_prepare_sent: crash") != std::string::npos);
  CHECK(r.output.find("hit 4") == std::string::npos);
}

TEST_CASE("an unarmed or other failpoint does nothing; hits are counted") {
  // If this fails, a node would crash at a step nobody asked for.
  Failpoints fp("coordinator.after_prepare_sent=crash@100");
  for (int i = 0; i < 99; ++i) fp.hit("coordinator.after_prepare_sent");
  fp.hit("acceptor.before_persist");
  CHECK(fp.hits("coordinator.after_prepare_sent") == 99);
  CHECK(fp.hits("acceptor.before_persist") == 0);  // not armed: not counted
}

TEST_CASE("hang blocks the calling thread until the process is killed") {
  // If this fails, a "hang" fault test would see a node that keeps working.
  ChildResult r = runChild(
      [] {
        Failpoints fp("coordinator.before_reply=hang");
        fp.hit("coordinator.before_reply");
        say("returned\n");
      },
      /*timeoutMs=*/300);
  CAPTURE(r.output);
  CHECK(r.output.find("failpoint coordinator.before_reply: hang") != std::string::npos);
  CHECK(r.output.find("TIMEOUT") != std::string::npos);  // still blocked after 300 ms
  CHECK(r.output.find("returned") == std::string::npos);
  CHECK(diedBySigkill(r.status));
}

TEST_CASE("delay sleeps on every hit; delay@N only on the N-th") {
  // If this fails, latency fault tests would measure nothing.
  using Clock = std::chrono::steady_clock;
  auto msOf = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  Failpoints every("acceptor.before_persist=delay(40)");
  auto t0 = Clock::now();
  every.hit("acceptor.before_persist");
  every.hit("acceptor.before_persist");
  CHECK(msOf(Clock::now() - t0) >= 80);

  Failpoints second("acceptor.before_persist=delay(150)@2");
  t0 = Clock::now();
  second.hit("acceptor.before_persist");
  CHECK(msOf(Clock::now() - t0) < 100);
  t0 = Clock::now();
  second.hit("acceptor.before_persist");
  CHECK(msOf(Clock::now() - t0) >= 150);
  t0 = Clock::now();
  second.hit("acceptor.before_persist");
  CHECK(msOf(Clock::now() - t0) < 100);
  CHECK(second.hits("acceptor.before_persist") == 3);
}
