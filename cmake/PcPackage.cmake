# The installable package (docs/DESIGN.md §5). `cmake --install BUILD --prefix P` puts:
#
#   P/bin/pcommit                              the command
#   P/lib/libpcommit_client.so                 pc::Client, pc::BlockingClient
#   P/lib/libpcommit_participant.so            pc::ResourceManager, pc::ParticipantNode
#   P/include/pcommit/...                      their headers (include "client/client.h")
#   P/lib/cmake/pcommit/                       find_package(pcommit): pcommit::client,
#                                              pcommit::participant, pcommit::pcommit
#
# The shared libraries are linked from the internal static libraries (whole pc_client /
# pc_participant, and of the rest what they use), so LMDB, Boost and the internal
# libraries are private to them; only KJ, which the public headers use, is a public
# dependency. The public headers are the entry points below and the headers they include,
# found by following their #include lines: configuring fails if that closure reaches a
# header not listed as public (storage/, rpc/, the node host...) or LMDB, Boost, capnp.
#
# In this tree pcommit::client is an alias of the shared library (in-tree examples link
# what they would link installed); pcommit::participant is participant/'s alias of the
# static pc_participant. tests/e2e/install_examples.sh proves the installed package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
find_package(CapnProto REQUIRED)  # imported targets are per directory: KJ, for the libraries

set(PC_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/pcommit)
set(PC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/pcommit)

# ---- public headers -------------------------------------------------------------------
# What applications and engines include...
set(PC_PUBLIC_ENTRY_HEADERS client/client.h)
if(TARGET pc_participant)
  list(APPEND PC_PUBLIC_ENTRY_HEADERS participant/participant_node.h
       participant/resource_manager.h)
endif()
# ...and the only other headers they may reach: plain values, no I/O. Adding one here makes
# it part of the installed API (review it: nothing of storage/, rpc/, LMDB, capnp).
set(PC_PUBLIC_SUPPORT_HEADERS paxos_commit/config.h paxos_commit/engine.h paxos_commit/kv.h
                              paxos_commit/role.h paxos_commit/types.h
                              runtime/cluster_config.h)

# pc_header_closure(OUT header...): the headers of this tree reachable by #include "..."
# from the given ones (paths relative to the source root). Fails on any header outside the
# two lists above, and on an #include of LMDB, Boost, Cap'n Proto or RocksDB.
function(pc_header_closure out)
  set(todo ${ARGN})
  set(seen)
  while(todo)
    list(POP_FRONT todo header)
    if(header IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${header})
    if(NOT header IN_LIST PC_PUBLIC_ENTRY_HEADERS AND NOT header IN_LIST PC_PUBLIC_SUPPORT_HEADERS)
      message(FATAL_ERROR "the public headers (${PC_PUBLIC_ENTRY_HEADERS}) include ${header}, "
                          "which is not public (cmake/PcPackage.cmake lists what may be)")
    endif()
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "public header ${header} is not in the source tree")
    endif()
    file(STRINGS ${PROJECT_SOURCE_DIR}/${header} includes REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS includes)
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        list(APPEND todo ${CMAKE_MATCH_1})
      elseif(line MATCHES "#[ \t]*include[ \t]*<((lmdb|boost/|capnp/|rocksdb/)[^>]*)>")
        message(FATAL_ERROR "public header ${header} includes <${CMAKE_MATCH_1}>: "
                            "only the standard library and KJ may be public dependencies")
      endif()
    endforeach()
  endwhile()
  list(SORT seen)
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

pc_header_closure(PC_PUBLIC_HEADERS ${PC_PUBLIC_ENTRY_HEADERS})
foreach(header IN LISTS PC_PUBLIC_HEADERS)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header} DESTINATION ${PC_INSTALL_INCLUDEDIR}/${dir})
endforeach()

set(PC_VERSION_DIR ${PROJECT_BINARY_DIR}/pcommit_version)
configure_file(${PROJECT_SOURCE_DIR}/cmake/pcommit_version.h.in
               ${PC_VERSION_DIR}/pcommit_version.h @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/pcommit_version.cc.in
               ${PC_VERSION_DIR}/pcommit_version.cc @ONLY)
install(FILES ${PC_VERSION_DIR}/pcommit_version.h DESTINATION ${PC_INSTALL_INCLUDEDIR})

# ---- shared libraries -----------------------------------------------------------------
# pc_shared_library(NAME INTERNAL EXPORT_NAME): libNAME.so holding all of the static
# library INTERNAL, exported as pcommit::EXPORT_NAME.
function(pc_shared_library name internal exportName)
  if(CMAKE_VERSION VERSION_LESS 3.24)
    # No WHOLE_ARCHIVE: a static wrapper, so the tree still builds; not installed.
    add_library(${name} STATIC ${PC_VERSION_DIR}/pcommit_version.cc)
    target_link_libraries(${name} PUBLIC ${internal})
  else()
    add_library(${name} SHARED ${PC_VERSION_DIR}/pcommit_version.cc)
    target_link_libraries(${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${internal}>")
  endif()
  target_link_libraries(${name} PUBLIC CapnProto::kj-async CapnProto::kj)
  target_include_directories(
    ${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PC_VERSION_DIR}>
                   $<INSTALL_INTERFACE:${PC_INSTALL_INCLUDEDIR}>)
  target_compile_features(${name} PUBLIC cxx_std_20)
  # 0.x: a minor release may change the ABI, so the soname carries it.
  set_target_properties(
    ${name} PROPERTIES EXPORT_NAME ${exportName} VERSION ${PROJECT_VERSION}
                       SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
endfunction()

pc_shared_library(pcommit_client pc_client client)
# In this tree applications (examples/) link the same library they would link installed.
add_library(pcommit::client ALIAS pcommit_client)
set(PC_EXPORTED_TARGETS pcommit_client)
if(TARGET pc_participant)
  pc_shared_library(pcommit_participant pc_participant participant)
  list(APPEND PC_EXPORTED_TARGETS pcommit_participant)
endif()

if(CMAKE_VERSION VERSION_LESS 3.24)
  message(WARNING "CMake ${CMAKE_VERSION} < 3.24 (no WHOLE_ARCHIVE): no shared libraries and "
                  "no CMake package; `cmake --install` installs only the pcommit command")
  install(TARGETS pcommit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  return()
endif()

# ---- install and package --------------------------------------------------------------
install(TARGETS ${PC_EXPORTED_TARGETS} pcommit
        EXPORT pcommitTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
set_target_properties(pcommit PROPERTIES EXPORT_NAME pcommit)
install(EXPORT pcommitTargets NAMESPACE pcommit:: DESTINATION ${PC_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/pcommitConfig.cmake.in ${PROJECT_BINARY_DIR}/pcommitConfig.cmake
  INSTALL_DESTINATION ${PC_INSTALL_CMAKEDIR}
  PATH_VARS PC_INSTALL_INCLUDEDIR)
# 0.x: only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pcommitConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pcommitConfig.cmake
              ${PROJECT_BINARY_DIR}/pcommitConfigVersion.cmake
        DESTINATION ${PC_INSTALL_CMAKEDIR})
