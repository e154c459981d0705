// startQuietThread: a background thread that takes no signal.
//
// A process's signals belong to its event loop: `pcommit serve` opens its environments,
// then KJ takes SIGTERM and SIGINT by blocking them in the main thread and reading them
// from a signalfd. A thread started before that inherits a mask without them, so the
// kernel could hand it a SIGTERM, whose default action ends the process without the
// clean stop (the checkpoint, the socket files removed). So storage's threads (the
// Env's checkpoint thread, the StorageThread) start with every signal blocked.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace pc::storage {

template <class F>
std::thread startQuietThread(F&& body) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits this mask
  try {
    std::thread t(std::forward<F>(body));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
}

}  // namespace pc::storage
