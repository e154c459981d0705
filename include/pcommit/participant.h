// pcommit's embedding API, as storage engines include it: #include <pcommit/participant.h>
// (link pcommit::participant, or `pkg-config --cflags --libs pcommit-participant`).
// pc::ParticipantNode runs a participant node over a pc::ResourceManager
// (participant/participant_node.h, participant/resource_manager.h); also the version macros.
#pragma once

#include "participant/participant_node.h"
#include "pcommit_version.h"
