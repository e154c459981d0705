# bash completion for pcommit (installed as share/bash-completion/completions/pcommit;
# or: source deploy/completions/pcommit.bash).
# Subcommands and options are read from the command's own --help -- `pcommit --help` lists
# the commands, `pcommit CMD --help` (and `pcommit cluster SUB --help`) their options -- so
# they never drift from the binary being completed. Each --help runs once per shell.

declare -gA _pcommit_cache

# _pcommit_help KEY ARGS...: the --help text of `ARGS... --help`, cached under KEY.
_pcommit_help() {
  local key="$1"
  shift
  if [[ -z "${_pcommit_cache[$key]+set}" ]]; then
    _pcommit_cache[$key]="$("$@" --help 2>/dev/null)"
  fi
  printf '%s\n' "${_pcommit_cache[$key]}"
}

# The names of a "commands:" / "subcommands:" block: lines indented by two spaces.
_pcommit_block() {
  awk -v h="$1" '$0 == h { c = 1; next } c && /^  [a-z]/ { print $1 } c && /^$/ { exit }'
}

# The options of an options block: "  --name ..." and "  -h [ --help ]" lines.
_pcommit_option_names() {
  sed -nE 's/^  (-[a-zA-Z] \[ )?(--[a-z][a-z0-9-]*).*/\2/p'
}

_pcommit() {
  local bin="${COMP_WORDS[0]}" cur="${COMP_WORDS[COMP_CWORD]}" prev=""
  ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "$(_pcommit_help top "$bin" | _pcommit_block commands:) \
      --help --version" -- "$cur")
    return 0
  fi
  local cmd="${COMP_WORDS[1]}" cmdline=("$bin" "${COMP_WORDS[1]}")
  if [[ "$cmd" == cluster ]]; then
    if ((COMP_CWORD == 2)); then
      mapfile -t COMPREPLY < <(compgen -W "$(_pcommit_help cluster "$bin" cluster |
        _pcommit_block subcommands:)" -- "$cur")
      return 0
    fi
    cmdline+=("${COMP_WORDS[2]}")
  fi
  case "$prev" in
    --cluster | --config | --json-file)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0
      ;;
    --dir | --data)
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return 0
      ;;
    --protocol)
      mapfile -t COMPREPLY < <(compgen -W "2pc paxos-classic paxos paxos-direct 2pc-replicated" -- "$cur")
      return 0
      ;;
  esac
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_pcommit_help "${cmdline[*]:1}" "${cmdline[@]}" |
      _pcommit_option_names)" -- "$cur")
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _pcommit pcommit
