# Fails if any file of CORE_DIR mentions a wall clock, a random device, threads, mutexes,
# unordered containers (iteration order must be deterministic), or capnp/kj/lmdb/boost.
file(GLOB files "${CORE_DIR}/*.h" "${CORE_DIR}/*.cc")
if(NOT files)
  message(FATAL_ERROR "lint: no sources found in ${CORE_DIR}")
endif()
set(patterns
  "<chrono>" "std::chrono" "<ctime>" "[^a-zA-Z_.]time\\(" "gettimeofday" "clock_gettime"
  "<random>" "random_device" "[^a-zA-Z_]s?rand\\(" "<thread>" "std::thread" "<mutex>" "std::mutex"
  "<atomic>" "<condition_variable>" "pthread" "unordered_map" "unordered_set"
  "capnp/" "kj/" "lmdb" "boost/" "<fstream>" "<iostream>" "fopen" "getenv" "sleep\\(" "sleep_for")
set(bad 0)
foreach(f ${files})
  file(READ "${f}" text)
  foreach(p ${patterns})
    if(text MATCHES "${p}")
      message(SEND_ERROR "lint: ${f} mentions '${p}': the core must stay pure")
      set(bad 1)
    endif()
  endforeach()
endforeach()
list(LENGTH files n)
if(bad)
  message(FATAL_ERROR "lint: core purity violated")
endif()
message(STATUS "lint: ${n} core files are pure")
