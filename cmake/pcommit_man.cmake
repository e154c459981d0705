# Generates the man page pcommit.1 from the built binary's --help (run at build time by
# cmake/PcPackage.cmake):
#   cmake -DPCOMMIT=BIN -DHELP2MAN=BIN -DOUT=FILE -P cmake/pcommit_man.cmake
# help2man turns `pcommit --help` and `--version` into the page; a section COMMANDS
# appended to it holds every subcommand's own --help (and `cluster`'s subcommands'), so
# the page documents every option without a hand-written copy that could drift.
foreach(var PCOMMIT HELP2MAN OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "pcommit_man.cmake: -D${var}=... is required")
  endif()
endforeach()

# help_of(OUT ARGS...): the --help text of `pcommit ARGS...`, escaped for roff.
function(help_of out)
  execute_process(COMMAND ${PCOMMIT} ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc
                  ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pcommit ${ARGN} --help exited ${rc}")
  endif()
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# names_after(OUT TEXT HEADING): the words indented by two spaces in the block that follows
# the line HEADING (the command table of --help).
function(names_after out text heading)
  string(FIND "${text}" "${heading}\n" at)
  if(at LESS 0)
    message(FATAL_ERROR "pcommit --help: no '${heading}' block")
  endif()
  string(SUBSTRING "${text}" ${at} -1 text)
  string(REGEX MATCHALL "\n  [a-z][a-z0-9-]* " found "${text}")
  set(names "")
  foreach(f IN LISTS found)
    string(STRIP "${f}" f)
    list(APPEND names ${f})
  endforeach()
  set(${out} ${names} PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${PCOMMIT} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pcommit --help exited ${rc}")
endif()
names_after(commands "${top}" "commands:")
set(include "[COMMANDS]\nEach command's own --help.\n")
foreach(cmd IN LISTS commands)
  help_of(text ${cmd})
  string(APPEND include ".SS \"pcommit ${cmd}\"\n.nf\n${text}.fi\n")
  if(cmd STREQUAL "cluster")
    execute_process(COMMAND ${PCOMMIT} cluster --help OUTPUT_VARIABLE sub)
    names_after(subs "${sub}" "subcommands:")
    foreach(s IN LISTS subs)
      help_of(text cluster ${s})
      string(APPEND include ".SS \"pcommit cluster ${s}\"\n.nf\n${text}.fi\n")
    endforeach()
  endif()
endforeach()
string(APPEND include "[SEE ALSO]\nThe README and docs/ of pcommit's source: README.md, docs/DESIGN.md, "
       "docs/PROTOCOL.md.\n")
file(WRITE ${OUT}.include "${include}")
execute_process(
  COMMAND ${HELP2MAN} --no-info --section 1
          --name "distributed transaction commit: Two-Phase Commit and Paxos Commit"
          --include ${OUT}.include --output ${OUT}.tmp ${PCOMMIT}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
file(RENAME ${OUT}.tmp ${OUT})
