// Listening on a Unix domain socket (`unix:PATH` addresses, docs/notes/unix.md): what KJ's
// listen() leaves to us. Before binding, a socket file left by a dead process is removed
// -- but only after a connect to it is refused (a live listener keeps its file, and we
// fail), and never a path that is not a socket. The new socket file has mode 0600 (the
// owner only: nodes and clients of a cluster run as one user). Dropping the returned
// receiver closes it and removes the file, if it is still the one we bound.
#pragma once

#include <kj/async-io.h>

#include <optional>
#include <string>

namespace pc::rpc {

// "unix:PATH" -> PATH; nullopt for any other address.
std::optional<std::string> unixPathOf(const std::string& host);

// Binds and listens on PATH. Throws kj::Exception (FAILED) naming PATH and the reason: not
// a socket, a live listener there, a stat, connect or unlink error, or bind's own.
kj::Own<kj::ConnectionReceiver> listenUnix(kj::Network& network, kj::WaitScope& waitScope,
                                           const std::string& path);

}  // namespace pc::rpc
