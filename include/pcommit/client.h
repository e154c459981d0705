// pcommit's client library, as applications include it: #include <pcommit/client.h>
// (the package's include directory is PREFIX/include; link pcommit::client, or
// `pkg-config --cflags --libs pcommit`). pc::Client, pc::BlockingClient and their types
// (client/client.h), and the version macros with pc::libraryVersion().
#pragma once

#include "client/client.h"
#include "pcommit_version.h"
