// systemd's readiness protocol (sd_notify(3)) without libsystemd: a datagram with
// "READY=1" (or "STOPPING=1", "STATUS=...") to the unix socket named by $NOTIFY_SOCKET.
// `pcommit serve` sends READY=1 once every node of its process has recovered its durable
// state and listens, so a unit with Type=notify (deploy/systemd/pcommit@.service) is
// "started" only then. Without $NOTIFY_SOCKET (not run by systemd) it does nothing.
#pragma once

#include <string>

namespace pc::runtime {

// Sends `state` to $NOTIFY_SOCKET. Returns false with `error` set if the variable is set
// but the datagram could not be sent (bad path, socket error); true if it was sent or
// there is no $NOTIFY_SOCKET. Never throws. Abstract sockets ("@name") are supported.
bool notifySystemd(const std::string& state, std::string& error);

}  // namespace pc::runtime
