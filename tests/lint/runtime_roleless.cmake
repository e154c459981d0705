# Fails if a file of RUNTIME_DIR includes a role's header (the role cores of paxos_commit/,
# or anything of coordinator/, acceptor/, participant/) or switches on a node's role in the
# node host: runtime/ hosts any role through runtime/role_host.h, and only cli/serve.cc and
# participant/participant_node.cc pick one.
file(GLOB files "${RUNTIME_DIR}/*.h" "${RUNTIME_DIR}/*.cc")
if(NOT files)
  message(FATAL_ERROR "lint: no sources found in ${RUNTIME_DIR}")
endif()
set(patterns
  "#include \"paxos_commit/(acceptor|participant|coordinator|paxos_coordinator|two_pc_coordinator|leader)\\.h\""
  "#include \"(coordinator|acceptor|participant)/")
set(bad 0)
foreach(f ${files})
  file(READ "${f}" text)
  foreach(p ${patterns})
    if(text MATCHES "${p}")
      message(SEND_ERROR "lint: ${f} includes a role header (${CMAKE_MATCH_0})")
      set(bad 1)
    endif()
  endforeach()
  get_filename_component(name "${f}" NAME)
  if(name MATCHES "^node_host" AND text MATCHES "Role::")
    message(SEND_ERROR "lint: ${f} switches on the node's role")
    set(bad 1)
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "lint: runtime/ must not know the roles")
endif()
list(LENGTH files n)
message(STATUS "lint: ${n} runtime files know no role")
