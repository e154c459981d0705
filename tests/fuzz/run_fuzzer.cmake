# One fuzz test (ctest -L fuzz): runs FUZZER for SECONDS on a copy of its committed corpus
# CORPUS in WORK (so new inputs never land in the source tree) and fails on any finding.
# libFuzzer exits non-zero on a crash, a sanitizer report, a leak, a timeout (-timeout) or
# running out of memory (-rss_limit_mb); the reproducer is kept in WORK/artifacts/.
foreach(v FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}=... is required")
  endif()
endforeach()
file(GLOB seeds LIST_DIRECTORIES false "${CORPUS}/*")
if(NOT seeds)
  message(FATAL_ERROR "no seed corpus in ${CORPUS}")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ "${WORK}/corpus"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found "${WORK}/artifacts/*")
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); reproducer: ${found}\n"
                      "Replay it with: ${FUZZER} FILE; add it to ${CORPUS} once fixed.")
endif()
