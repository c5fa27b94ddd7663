# bash completion for lanzatool: commands, each command's own options, and files. The commands and
# options come from lanzatool's --help, so they are always those of the installed binary.

_lanzatool_help() { # [COMMAND]: the help text
	"${COMP_WORDS[0]}" ${1:+"$1"} --help 2>/dev/null
}

_lanzatool() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} verb="" i
	COMPREPLY=()
	# The command is the first word that is not an option nor an option's value after "=".
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-* | =) ;;
		*) [[ ${COMP_WORDS[i - 1]} == = ]] || { verb=${COMP_WORDS[i]} && break; } ;;
		esac
	done
	if [[ $cur == = || $prev == = ]]; then # --option=VALUE: a path
		[[ $cur == = ]] && cur=""
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	elif [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lanzatool_help "$verb" |
			sed -n 's/^  \(-. \|   \)\(--[a-z0-9-]*\)\(=\?\).*/\2\3/p')" -- "$cur")
		[[ ${COMPREPLY[0]:-} == *= ]] && compopt -o nospace 2>/dev/null
	elif [[ -z $verb ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lanzatool_help |
			sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}

complete -F _lanzatool lanzatool
