# The installable package (docs/DESIGN.md §5). `cmake --install BUILD --prefix P` puts:
#
#   P/bin/pcommit                              the command
#   P/lib/libpcommit_client.so                 pc::Client, pc::BlockingClient
#   P/lib/libpcommit_participant.so            pc::ResourceManager, pc::ParticipantNode
#   P/include/pcommit/client.h                 #include <pcommit/client.h> (-I P/include)
#   P/include/pcommit/participant.h            #include <pcommit/participant.h>
#   P/include/pcommit/...                      the headers those two include, each include
#                                              rewritten to "pcommit/..." (see below)
#   P/lib/cmake/pcommit/                       find_package(pcommit): pcommit::client,
#                                              pcommit::participant, pcommit::pcommit
#   P/lib/pkgconfig/pcommit.pc                 pkg-config: the client library
#   P/lib/pkgconfig/pcommit-participant.pc     pkg-config: the embedding library
#   P/share/man/man1/pcommit.1                 the man page (help2man, from --help)
#   P/share/bash-completion/completions/pcommit
#
# The shared libraries are linked from the internal static libraries (whole pc_client /
# pc_participant, and of the rest what they use), so LMDB, Boost and the internal
# libraries are private to them; only KJ, which the public headers use, is a public
# dependency. The public headers are the entry points below and the headers they include,
# found by following their #include lines: configuring fails if that closure reaches a
# header not listed as public (storage/, rpc/, the node host...) or LMDB, Boost, capnp.
# Installed, every header lives under P/include/pcommit/ (so nothing collides with a
# user's own client/ or runtime/ folders) and its quoted includes are rewritten from
# "client/client.h" to "pcommit/client/client.h": a user needs only -I P/include. In this
# tree the same names resolve through include/ and the source root, unchanged.
#
# In this tree pcommit::client is an alias of the shared library (in-tree examples link
# what they would link installed); pcommit::participant is participant/'s alias of the
# static pc_participant. tests/e2e/install_examples.sh proves the installed package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
find_package(CapnProto REQUIRED)  # imported targets are per directory: KJ, for the libraries

# The package's include directory (P/include); its headers are all under pcommit/.
set(PC_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR})
set(PC_INSTALL_HEADERDIR ${CMAKE_INSTALL_INCLUDEDIR}/pcommit)
set(PC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/pcommit)

# ---- public headers -------------------------------------------------------------------
# What applications and engines include...
set(PC_PUBLIC_ENTRY_HEADERS include/pcommit/client.h client/client.h)
if(TARGET pc_participant)
  list(APPEND PC_PUBLIC_ENTRY_HEADERS include/pcommit/participant.h
       participant/participant_node.h participant/resource_manager.h)
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
    if(header STREQUAL "pcommit_version.h")
      continue()  # generated (cmake/pcommit_version.h.in), installed below
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
# Staged for installation in BUILD/pcommit_include/pcommit/: include/pcommit/X.h as X.h,
# every other header at its path, each quoted include of a public header (or of the
# version header) rewritten to "pcommit/...". Re-staged whenever one of them changes.
set(PC_STAGED_INCLUDEDIR ${PROJECT_BINARY_DIR}/pcommit_include)
foreach(header IN LISTS PC_PUBLIC_HEADERS)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${header})
  file(READ ${PROJECT_SOURCE_DIR}/${header} text)
  foreach(other IN LISTS PC_PUBLIC_HEADERS ITEMS pcommit_version.h)
    string(REPLACE "#include \"${other}\"" "#include \"pcommit/${other}\"" text "${text}")
  endforeach()
  string(REGEX MATCHALL "#include \"[^\"]*\"" quoted "${text}")
  foreach(inc IN LISTS quoted)
    if(NOT inc MATCHES "^#include \"pcommit/")
      message(FATAL_ERROR "public header ${header}: ${inc} is not a public header")
    endif()
  endforeach()
  if(header MATCHES "^include/pcommit/(.*)$")
    set(dest ${CMAKE_MATCH_1})
  else()
    set(dest ${header})
  endif()
  set(staged ${PC_STAGED_INCLUDEDIR}/pcommit/${dest})
  set(old "")
  if(EXISTS ${staged})
    file(READ ${staged} old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${staged} "${text}")
  endif()
  get_filename_component(dir ${dest} DIRECTORY)
  install(FILES ${staged} DESTINATION ${PC_INSTALL_HEADERDIR}/${dir})
endforeach()

set(PC_VERSION_DIR ${PROJECT_BINARY_DIR}/pcommit_version)
configure_file(${PROJECT_SOURCE_DIR}/cmake/pcommit_version.h.in
               ${PC_VERSION_DIR}/pcommit_version.h @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/pcommit_version.cc.in
               ${PC_VERSION_DIR}/pcommit_version.cc @ONLY)
install(FILES ${PC_VERSION_DIR}/pcommit_version.h DESTINATION ${PC_INSTALL_HEADERDIR})

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
    ${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                   $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PC_VERSION_DIR}>
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
  # In this tree pcommit::participant is the static pc_participant: <pcommit/participant.h>
  # (and the version header it includes) must resolve for it too.
  target_include_directories(pc_participant PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                   $<BUILD_INTERFACE:${PC_VERSION_DIR}>)
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

# ---- pkg-config -----------------------------------------------------------------------
# pcommit.pc (the client library) and pcommit-participant.pc (the embedding library):
#   c++ app.cc $(pkg-config --cflags --libs pcommit)
# Relocatable like the CMake package: the prefix is found from the .pc file's own place.
file(RELATIVE_PATH PC_PC_RELPREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" PC_PC_RELPREFIX "${PC_PC_RELPREFIX}")
foreach(component IN ITEMS client participant)
  if(NOT TARGET pcommit_${component})
    continue()
  endif()
  set(PC_PC_LIB pcommit_${component})
  if(component STREQUAL client)
    set(PC_PC_NAME pcommit)
    set(PC_PC_WHAT "client library (#include <pcommit/client.h>)")
    set(PC_PC_DESCRIPTION "pcommit client: atomic commits across shards (2PC, Paxos Commit)")
  else()
    set(PC_PC_NAME pcommit-participant)
    set(PC_PC_WHAT "embedding library (#include <pcommit/participant.h>)")
    set(PC_PC_DESCRIPTION "pcommit participant: a storage engine as a pcommit participant")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/pcommit.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/${PC_PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${PC_PC_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# ---- man page and bash completion -----------------------------------------------------
# pcommit.1 from the built command's --help by help2man, at build time (CI installs
# help2man: the `pc` script's PACKAGES); without help2man the page is skipped, said once.
find_program(PC_HELP2MAN help2man)
if(PC_HELP2MAN)
  set(PC_MAN_PAGE ${PROJECT_BINARY_DIR}/man/pcommit.1)
  add_custom_command(
    OUTPUT ${PC_MAN_PAGE}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${CMAKE_COMMAND} -DPCOMMIT=$<TARGET_FILE:pcommit> -DHELP2MAN=${PC_HELP2MAN}
            -DOUT=${PC_MAN_PAGE} -P ${PROJECT_SOURCE_DIR}/cmake/pcommit_man.cmake
    DEPENDS pcommit ${PROJECT_SOURCE_DIR}/cmake/pcommit_man.cmake
    COMMENT "Generating the man page pcommit.1 (help2man)"
    VERBATIM)
  add_custom_target(pcommit_man ALL DEPENDS ${PC_MAN_PAGE})
  install(FILES ${PC_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found (Debian package help2man): no man page pcommit.1")
endif()
install(FILES ${PROJECT_SOURCE_DIR}/deploy/completions/pcommit.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pcommit)
